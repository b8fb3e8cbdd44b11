#include "core/worker_protocol.hpp"
#include "core/assert.hpp"

#include "core/json.hpp"
#include "core/jsonrpc.hpp"

namespace lifeline::worker_protocol {

namespace {
std::string dump_line(const Json& j) {
  std::string line = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  // The framing of the worker protocol: one JSON object per line, which dump() (no
  // indent, escaped control characters) always gives.
  LIFELINE_ASSERT(line.find('\n') == std::string::npos);
  return line + "\n";
}
}  // namespace

std::string encode_bind(std::string_view session_key) {
  return dump_line({{"bind", {{"session_key", session_key}}}});
}

std::optional<std::string> decode_bind(std::string_view line) {
  auto j = rpc::parse_json_bounded(line);
  if (!j || !j->is_object()) return std::nullopt;
  auto bind = j->find("bind");
  if (bind == j->end() || !bind->is_object()) return std::nullopt;
  auto key = bind->find("session_key");
  if (key == bind->end() || !key->is_string() || key->get_ref<const std::string&>().empty())
    return std::nullopt;
  return key->get<std::string>();
}

std::string encode_request(const Request& req) {
  return dump_line({{"id", req.id}, {"command", req.command}});
}

std::string encode_reply(const Reply& reply) {
  Json j = {{"id", reply.id ? Json(*reply.id) : Json(nullptr)}, {"ok", reply.ok}};
  j[reply.ok ? "output" : "error"] = reply.text;
  return dump_line(j);
}

std::optional<Request> decode_request(std::string_view line, std::string* why) {
  auto fail = [why](const char* message) -> std::optional<Request> {
    if (why) *why = message;
    return std::nullopt;
  };
  auto j = rpc::parse_json_bounded(line);
  if (!j) return fail("request is not valid JSON");
  if (!j->is_object()) return fail("request must be a JSON object");
  auto id = j->find("id");
  auto command = j->find("command");
  if (id == j->end() || !id->is_number_integer()) return fail("request needs an integer id");
  if (command == j->end() || !command->is_string()) return fail("request needs a string command");
  if (id->is_number_unsigned() && id->get<std::uint64_t>() > INT64_MAX)
    return fail("request id out of range");
  return Request{id->get<std::int64_t>(), command->get<std::string>()};
}

std::optional<Reply> decode_reply(std::string_view line) {
  auto j = rpc::parse_json_bounded(line);
  if (!j || !j->is_object()) return std::nullopt;
  Reply r;
  auto id = j->find("id");
  if (id == j->end()) return std::nullopt;
  if (id->is_number_integer()) {
    if (id->is_number_unsigned() && id->get<std::uint64_t>() > INT64_MAX) return std::nullopt;
    r.id = id->get<std::int64_t>();
  } else if (!id->is_null()) {
    return std::nullopt;
  }
  auto ok = j->find("ok");
  if (ok == j->end() || !ok->is_boolean()) return std::nullopt;
  r.ok = ok->get<bool>();
  auto text = j->find(r.ok ? "output" : "error");
  if (text == j->end() || !text->is_string()) return std::nullopt;
  r.text = text->get<std::string>();
  return r;
}

}  // namespace lifeline::worker_protocol
