#include "core/jsonrpc.hpp"
#include "core/assert.hpp"

namespace lifeline::rpc {

namespace {

// Depth of [ and { nesting outside strings; stops early once over the limit.
bool within_depth(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

bool valid_id(const Json& id) {
  return id.is_null() || id.is_string() || id.is_number_integer() || id.is_number_unsigned();
}

}  // namespace

std::optional<Json> parse_json_bounded(std::string_view text, int max_depth) {
  if (!within_depth(text, max_depth)) return std::nullopt;
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::variant<Request, DecodeError> decode(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes)
    return DecodeError{nullptr, message_too_large,
                       "message of " + std::to_string(text.size()) +
                           " bytes exceeds the limit of " + std::to_string(max_bytes)};
  auto parsed = parse_json_bounded(text);
  if (!parsed) return DecodeError{nullptr, parse_error, "parse error: not valid JSON"};
  Json& j = *parsed;
  if (!j.is_object())
    return DecodeError{nullptr, invalid_request, "invalid request: expected one JSON object"};
  Request req;
  auto id = j.find("id");
  if (id == j.end()) {
    req.notification = true;
  } else if (!valid_id(*id)) {
    return DecodeError{nullptr, invalid_request,
                       "invalid request: id must be a string, an integer or null"};
  } else {
    req.id = *id;
  }
  auto version = j.find("jsonrpc");
  if (version == j.end() || !version->is_string() || *version != "2.0")
    return DecodeError{req.id, invalid_request, "invalid request: jsonrpc must be \"2.0\""};
  auto method = j.find("method");
  if (method == j.end() || !method->is_string())
    return DecodeError{req.id, invalid_request, "invalid request: method must be a string"};
  req.method = method->get<std::string>();
  auto params = j.find("params");
  if (params != j.end()) {
    if (!params->is_object())
      return DecodeError{req.id, invalid_params, "invalid params: params must be an object"};
    req.params = std::move(*params);
  }
  return req;
}

std::string result(const Json& id, Json result) {
  LIFELINE_ASSERT(valid_id(id));
  Json j = {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string error(const Json& id, int code, std::string_view message, const Json& data) {
  Json err = {{"code", code}, {"message", message}};
  if (!data.is_null()) err["data"] = data;
  // mutant: an-error-reply-loses-its-request-id
  Json j = {{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string event(std::string_view type, const std::string* session_id, Json payload) {
  Json params = {{"type", type}, {"payload", std::move(payload)}};
  if (session_id) params["session_id"] = *session_id;
  Json j = {{"jsonrpc", "2.0"}, {"method", "event"}, {"params", std::move(params)}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string event_with_base64(std::string_view type, const std::string* session_id, Json payload,
                              const std::string& field, std::string_view base64) {
  // A placeholder dump() renders as "\u0001\u0001": no id, type or number contains it.
  payload[field] = "\x01\x01";
  std::string text = event(type, session_id, std::move(payload));
  static constexpr std::string_view rendered = "\"\\u0001\\u0001\"";
  auto at = text.find(rendered);
  LIFELINE_ASSERT(at != std::string::npos);
  std::string out;
  out.reserve(text.size() + base64.size());
  out.append(text, 0, at + 1);
  out.append(base64);
  out.append(text, at + rendered.size() - 1);
  return out;
}

}  // namespace lifeline::rpc
