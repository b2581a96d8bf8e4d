#pragma once
// A RapidJSON output stream that appends to a std::string, so a Writer can fill a caller-reserved
// buffer and the result needs no copy out of a StringBuffer.
#include <string>

#include <rapidjson/allocators.h>
#include <rapidjson/writer.h>

namespace mlnetpol::admission {

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

// A Writer whose nesting stack is carved from a caller's buffer (a MemoryPoolAllocator over it), so
// writing a shallow document such as an AdmissionReview response allocates nothing but the output.
using pooled_string_writer = rapidjson::Writer<string_output, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                               rapidjson::MemoryPoolAllocator<>>;

}  // namespace mlnetpol::admission
