#pragma once
// A RapidJSON SAX handler that builds a document and refuses nesting past a limit: with the
// iterative reader, the one way a parse stays linear and off the call stack for hostile input.
#include <cstdint>

#include <rapidjson/document.h>

namespace mlnetpol::json {

// Forwards SAX events to the document and stops the reader once containers nest too deep.
class depth_limited_handler {
 public:
  depth_limited_handler(rapidjson::Document& document, unsigned max_depth)
      : document_(document), max_depth_(max_depth) {}

  bool Null() { return document_.Null(); }
  bool Bool(bool b) { return document_.Bool(b); }
  bool Int(int i) { return document_.Int(i); }
  bool Uint(unsigned u) { return document_.Uint(u); }
  bool Int64(std::int64_t i) { return document_.Int64(i); }
  bool Uint64(std::uint64_t u) { return document_.Uint64(u); }
  bool Double(double d) { return document_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return document_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return document_.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return document_.Key(s, n, copy); }
  bool StartObject() { return enter() && document_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return document_.EndObject(members);
  }
  bool StartArray() { return enter() && document_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return document_.EndArray(elements);
  }

  bool too_deep() const { return too_deep_; }

 private:
  bool enter() {
    if (++depth_ > max_depth_) too_deep_ = true;
    return !too_deep_;
  }

  rapidjson::Document& document_;
  unsigned max_depth_;
  unsigned depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace mlnetpol::json
