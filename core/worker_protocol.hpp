// The gateway <-> slash worker NDJSON protocol of docs/PROTOCOL.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lifeline::worker_protocol {

struct Request {
  std::int64_t id = 0;
  std::string command;
};

struct Reply {
  std::optional<std::int64_t> id;  // nullopt: the request did not parse
  bool ok = false;
  std::string text;  // output when ok, error otherwise
};

// A pooled worker's first message (docs/PROTOCOL.md section 9): the session it serves,
// for the rest of its life. Not answered.
std::string encode_bind(std::string_view session_key);  // one line, '\n'-terminated
std::string encode_request(const Request& req);         // one line, '\n'-terminated
std::string encode_reply(const Reply& reply);           // one line, '\n'-terminated

// nullopt (with why) when the line is not a well-formed message.
std::optional<Request> decode_request(std::string_view line, std::string* why = nullptr);
std::optional<Reply> decode_reply(std::string_view line);
// The key of a bind message; nullopt when the line is not one.
std::optional<std::string> decode_bind(std::string_view line);

}  // namespace lifeline::worker_protocol
