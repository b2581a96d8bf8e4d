#include "admission/json_patch.hpp"

#include <stdexcept>

#include <boost/throw_exception.hpp>

#include "admission/json_parse.hpp"
#include "admission/json_writer.hpp"

namespace mlnetpol::admission {
namespace {

rapidjson::SizeType size_of(std::string_view s) {
  return static_cast<rapidjson::SizeType>(s.size());
}

void write_string(std::string& out, std::string_view s) {
  string_output stream(out);
  string_writer writer(stream);
  writer.String(s.data(), size_of(s));
}

void write_value(std::string& out, const rapidjson::Value& value) {
  string_output stream(out);
  string_writer writer(stream);
  value.Accept(writer);
}

rapidjson::Value::ConstMemberIterator find(const rapidjson::Value& object, std::string_view name) {
  rapidjson::Value key(rapidjson::StringRef(name.data(), size_of(name)));
  return object.FindMember(key);
}

rapidjson::Value::MemberIterator find(rapidjson::Value& object, std::string_view name) {
  rapidjson::Value key(rapidjson::StringRef(name.data(), size_of(name)));
  return object.FindMember(key);
}

std::string pointer_of(const std::vector<std::string>& steps, std::size_t count) {
  std::string pointer;
  for (std::size_t i = 0; i < count; ++i) append_pointer_token(pointer, steps[i]);
  return pointer;
}

// Merges the entries into one tree of wanted values (objects for maps and path steps, strings for
// entries), so entries under the same missing parent end up in the same "add".
boost::system::result<void, patch_error> build_wanted(
    rapidjson::Document& wanted, const std::vector<policy::map_entry>& entries) {
  auto& alloc = wanted.GetAllocator();
  std::vector<std::string> steps;
  for (const auto& entry : entries) {
    steps = entry.metadata_path;
    steps.push_back(entry.map_name);
    rapidjson::Value* node = &wanted;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto it = find(*node, steps[i]);
      if (it == node->MemberEnd()) {
        node->AddMember(rapidjson::Value(steps[i].data(), size_of(steps[i]), alloc),
                        rapidjson::Value(rapidjson::kObjectType), alloc);
        node = &(node->MemberEnd() - 1)->value;
      } else if (it->value.IsObject()) {
        node = &it->value;
      } else {
        return patch_error("conflicting entries: " + pointer_of(steps, i + 1) +
                           " is both a value and a map");
      }
    }
    auto it = find(*node, entry.key);
    if (it == node->MemberEnd()) {
      node->AddMember(rapidjson::Value(entry.key.data(), size_of(entry.key), alloc),
                      rapidjson::Value(entry.value.data(), size_of(entry.value), alloc), alloc);
    } else if (it->value.IsString()) {
      it->value.SetString(entry.value.data(), size_of(entry.value), alloc);  // later entries win
    } else {
      steps.push_back(entry.key);
      return patch_error("conflicting entries: " + pointer_of(steps, steps.size()) +
                         " is both a value and a map");
    }
  }
  return {};
}

// Emits the operations turning original into a superset of wanted. Recursion depth is the length
// of the entries' paths, not anything from the admitted object.
boost::system::result<void, patch_error> diff(const rapidjson::Value& wanted,
                                              const rapidjson::Value& original,
                                              std::string& pointer, json_patch& patch) {
  for (const auto& member : wanted.GetObject()) {
    const std::size_t mark = pointer.size();
    const std::string_view name(member.name.GetString(), member.name.GetStringLength());
    append_pointer_token(pointer, name);
    auto it = find(original, name);
    if (it == original.MemberEnd() || it->value.IsNull()) {
      // "add" creates the member, or replaces a null one (RFC 6902 4.1).
      patch.add(pointer, member.value);
    } else if (member.value.IsString()) {
      const std::string_view want(member.value.GetString(), member.value.GetStringLength());
      if (!it->value.IsString() ||
          std::string_view(it->value.GetString(), it->value.GetStringLength()) != want) {
        patch.replace(pointer, want);
      }
    } else if (it->value.IsObject()) {
      auto nested = diff(member.value, it->value, pointer, patch);
      if (!nested) return nested;
    } else {
      return patch_error(pointer + " is " + json_type_name(it->value) + ", not an object");
    }
    pointer.resize(mark);
  }
  return {};
}

}  // namespace

void append_pointer_token(std::string& pointer, std::string_view token) {
  pointer.push_back('/');
  for (const char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer.push_back(c);
    }
  }
}

std::string json_pointer(std::initializer_list<std::string_view> tokens) {
  std::string pointer;
  for (const auto token : tokens) append_pointer_token(pointer, token);
  return pointer;
}

void json_patch::begin(std::string_view op, std::string_view path) {
  if (operations_++ != 0) text_.push_back(',');
  text_ += R"({"op":")";
  text_ += op;
  text_ += R"(","path":)";
  write_string(text_, path);
}

void json_patch::value_op(std::string_view op, std::string_view path,
                          std::string_view string_value) {
  begin(op, path);
  text_ += R"(,"value":)";
  write_string(text_, string_value);
  text_.push_back('}');
}

void json_patch::value_op(std::string_view op, std::string_view path,
                          const rapidjson::Value& value) {
  begin(op, path);
  text_ += R"(,"value":)";
  write_value(text_, value);
  text_.push_back('}');
}

void json_patch::add(std::string_view path, std::string_view string_value) {
  value_op("add", path, string_value);
}

void json_patch::add(std::string_view path, const rapidjson::Value& value) {
  value_op("add", path, value);
}

void json_patch::replace(std::string_view path, std::string_view string_value) {
  value_op("replace", path, string_value);
}

void json_patch::replace(std::string_view path, const rapidjson::Value& value) {
  value_op("replace", path, value);
}

void json_patch::remove(std::string_view path) {
  begin("remove", path);
  text_.push_back('}');
}

std::string json_patch::str() const {
  if (operations_ == 0) return {};
  std::string out;
  out.reserve(text_.size() + 2);
  out.push_back('[');
  out += text_;
  out.push_back(']');
  return out;
}

void throw_exception_from_error(const patch_error& error, const boost::source_location& location) {
  boost::throw_exception(std::runtime_error(error.message), location);
}

boost::system::result<std::string, patch_error> patch_for_entries(
    const rapidjson::Value& object, const std::vector<policy::map_entry>& entries) {
  using patch_result = boost::system::result<std::string, patch_error>;
  if (entries.empty()) return patch_result(boost::system::in_place_value);
  if (!object.IsObject()) {
    return patch_error(std::string("the admitted object is ") + json_type_name(object) +
                       ", not an object");
  }
  rapidjson::Document wanted(rapidjson::kObjectType);
  if (auto built = build_wanted(wanted, entries); !built) return built.error();
  json_patch patch;
  std::string pointer;
  if (auto done = diff(wanted, object, pointer, patch); !done) return done.error();
  return patch_result(boost::system::in_place_value, patch.str());
}

}  // namespace mlnetpol::admission
