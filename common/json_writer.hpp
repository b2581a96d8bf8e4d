#pragma once
// The JSON writer: a RapidJSON output stream that appends to a std::string, so a Writer can fill a
// caller-reserved buffer and the result needs no copy out of a StringBuffer; and JSON string
// escaping into a std::string, exactly as the Writer does it, for code that writes JSON by hand.
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/writer.h>

#include "common/json_escape.hpp"

namespace mlnetpol::json {

class string_output {
 public:
  using Ch = char;
  explicit string_output(std::string& out) : out_(&out) {}
  void Put(char c) { out_->push_back(c); }
  void Flush() {}
  std::string& str() { return *out_; }

 private:
  std::string* out_;
};

using string_writer = rapidjson::Writer<string_output>;

// Appends s as the inside of a JSON string, escaped as json::put_escaped does: a chunk at a time
// through a stack buffer, so out only grows by what is written (nothing zero-filled first).
inline void append_json_escaped(std::string& out, std::string_view s) {
  constexpr std::size_t chunk = 128;
  char buffer[max_escaped(chunk)];
  for (std::size_t at = 0; at < s.size(); at += chunk) {
    const char* end = put_escaped(buffer, s.substr(at, chunk));
    out.append(buffer, static_cast<std::size_t>(end - buffer));
  }
}

// value as compact JSON.
inline std::string write(const rapidjson::Value& value) {
  std::string out;
  string_output stream(out);
  string_writer writer(stream);
  value.Accept(writer);
  return out;
}

}  // namespace mlnetpol::json
