#!/usr/bin/env bash
# docs/PROTOCOL.md is the contract independent clients are written against: every method
# the dispatcher knows, every event the core emits, every flag --help lists and every
# error code must appear in it. Reads the sources (this runs before the build).
set -euo pipefail
cd "$(dirname "$0")/.."
doc=docs/PROTOCOL.md
missing=()
# Methods: the dispatcher's table ({"session.create", &Gateway::rpc_create}).
methods=$(grep -ohE '\{"[a-z]+\.[a-z_]+", &Gateway::' core/gateway.cpp | grep -oE '"[^"]+"' | tr -d '"')
[[ -n "$methods" ]] || { echo "check-protocol-doc: found no methods in core/gateway.cpp"; exit 1; }
# Events: emit(*s, "pty.output", ...) and rpc::event("gateway.ready", ...).
events=$(grep -ohE '(emit\([^,]+, |rpc::event\()"[a-z]+\.[a-z_]+"' core/*.cpp | grep -oE '"[^"]+"' | tr -d '"')
# Flags: the usage text (--help) and the parser's knobs, which must agree.
usage_flags=$(sed -n '/^std::string usage_serving()/,/^std::string gateway_usage()/p' core/config.cpp | sed 's/^  return R"(//' | grep -oE '^  --[a-z][a-z-]*' | sed 's/^  //' | sort -u)
knob_flags=$(sed -n '/^ParsedConfig<GatewayConfig> parse_gateway_config/,/^}/p' core/config.cpp |
  grep -oE '(knob\(|\{)"[a-z][a-z-]*"' | grep -oE '"[^"]+"' | tr -d '"' | sed 's/^/--/' | sort -u)
for f in $knob_flags; do
  grep -qx -- "$f" <<<"$usage_flags" || missing+=("$f (a flag the parser knows) in --help")
done
# Error codes: core/jsonrpc.hpp's enum.
codes=$(sed -n '/^enum Code/,/^};/p' core/jsonrpc.hpp | grep -oE '= -?[0-9]+' | tr -d '= ')
for m in $methods $events; do grep -qF "\`$m\`" "$doc" || missing+=("$m in $doc"); done
for f in $usage_flags; do grep -qE -- "\`$f( [^\`]*)?\`" "$doc" || missing+=("$f in $doc"); done
for c in $codes; do grep -qF "\`$c\`" "$doc" || missing+=("error code $c in $doc"); done
if ((${#missing[@]})); then
  printf 'check-protocol-doc: missing %s\n' "${missing[@]}"
  exit 1
fi
echo "check-protocol-doc: $(wc -w <<<"$methods") methods, $(wc -w <<<"$events") events, $(wc -w <<<"$usage_flags") flags, $(wc -w <<<"$codes") error codes documented"
