#include "admission/json_patch.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>

#include <boost/container/small_vector.hpp>
#include <boost/throw_exception.hpp>

#include "common/json_parse.hpp"
#include "common/json_writer.hpp"
#include "policy/json_index.hpp"

namespace mlnetpol::admission {
namespace {

using json::append_json_escaped;
using json::json_type_name;

rapidjson::SizeType size_of(std::string_view s) {
  return static_cast<rapidjson::SizeType>(s.size());
}

// As RapidJSON's Writer writes a string (see append_json_escaped), without a Writer's Put per byte.
void write_string(std::string& out, std::string_view s) {
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
}

void write_value(std::string& out, const rapidjson::Value& value) {
  json::string_output stream(out);
  json::string_writer writer(stream);
  value.Accept(writer);
}

rapidjson::Value::ConstMemberIterator find(const rapidjson::Value& object, std::string_view name) {
  rapidjson::Value key(rapidjson::StringRef(name.data(), size_of(name)));
  return object.FindMember(key);
}

std::string pointer_of(std::span<const std::string_view> steps, std::size_t count) {
  std::string pointer;
  for (std::size_t i = 0; i < count; ++i) append_pointer_token(pointer, steps[i]);
  return pointer;
}

// The wanted values: a tree of maps (path steps and label/annotation maps) with string leaves, in
// the order entries first name them. Children are indexed by name (views into the entries), so n
// entries cost n log n rather than a linear member search each. The nodes live in one
// wanted_tree, a label patch's few of them inline.
struct wanted_node {
  static constexpr std::size_t no_map = static_cast<std::size_t>(-1);
  struct member {
    std::string_view name;
    std::optional<std::string_view> value;  // a string entry; else a map
    std::size_t map = no_map;               // the map's node in the tree
  };
  // A label patch's nodes have one to three members: kept inline, not in an allocation each.
  boost::container::small_vector<member, 4> members;
  // name -> position in members, built once a node has more than a few members (a label patch
  // has two or three per node: a linear look is cheaper than a tree node allocation each).
  std::map<std::string_view, std::size_t> index;
  static constexpr std::size_t linear_members = 8;

  member* find(std::string_view name) {
    if (members.size() <= linear_members) {
      for (auto& m : members) {
        if (m.name == name) return &m;
      }
      return nullptr;
    }
    const auto it = index.find(name);
    return it == index.end() ? nullptr : &members[it->second];
  }
  member& add(std::string_view name) {
    if (members.size() == linear_members) {
      for (std::size_t i = 0; i < members.size(); ++i) index.emplace(members[i].name, i);
    }
    if (members.size() >= linear_members) index.emplace(name, members.size());
    return members.emplace_back(member{name, std::nullopt, no_map});
  }
};

// nodes[0] is the root. A label patch has three maps or four (metadata, labels, annotations):
// inline. Nodes are named by index: adding one may move them all.
struct wanted_tree {
  wanted_tree() { nodes.emplace_back(); }
  boost::container::small_vector<wanted_node, 4> nodes;
};

// The node as a JSON object (for one "add" of a missing parent), written as RapidJSON writes it.
rapidjson::Value to_json(const wanted_tree& tree, std::size_t node,
                         rapidjson::MemoryPoolAllocator<>& alloc) {
  rapidjson::Value out(rapidjson::kObjectType);
  for (const auto& m : tree.nodes[node].members) {
    rapidjson::Value value = m.value ? rapidjson::Value(m.value->data(), size_of(*m.value), alloc)
                                     : to_json(tree, m.map, alloc);
    out.AddMember(rapidjson::Value(m.name.data(), size_of(m.name), alloc), value, alloc);
  }
  return out;
}

// Merges the entries into one tree of wanted values, so entries under the same missing parent end
// up in the same "add".
result<void> build_wanted(wanted_tree& tree, std::span<const policy::map_entry> entries) {
  // Reused by every entry; a metadata path is a few steps deep, so it stays on the stack.
  boost::container::small_vector<std::string_view, 8> steps;
  for (const auto& entry : entries) {
    steps.assign(entry.metadata_path.begin(), entry.metadata_path.end());
    steps.emplace_back(entry.map_name);
    std::size_t node = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const wanted_node::member* found = tree.nodes[node].find(steps[i]);
      if (found == nullptr) {
        const std::size_t child = tree.nodes.size();
        tree.nodes.emplace_back();  // first: it may move the node being added to
        tree.nodes[node].add(steps[i]).map = child;
        node = child;
        continue;
      }
      if (found->value) {
        return fail("conflicting entries: " + pointer_of(steps, i + 1) +
                    " is both a value and a map");
      }
      node = found->map;
    }
    wanted_node::member* found = tree.nodes[node].find(entry.key);
    if (found == nullptr) {
      tree.nodes[node].add(entry.key).value = entry.value;
    } else if (found->value) {
      found->value = entry.value;  // later entries win
    } else {
      steps.emplace_back(entry.key);
      return fail("conflicting entries: " + pointer_of(steps, steps.size()) +
                  " is both a value and a map");
    }
  }
  return {};
}

// The member of original named name (the first one, as FindMember finds it); objects with many
// members are indexed once per diff step rather than searched once per wanted member.
class original_members {
 public:
  explicit original_members(const rapidjson::Value& object) : object_(object) {
    if (object.MemberCount() > policy::small_object_members) index_.emplace(object);
  }
  const rapidjson::Value* find(std::string_view name) const {
    if (index_) return index_->find(name);
    const auto it = admission::find(object_, name);
    return it == object_.MemberEnd() ? nullptr : &it->value;
  }

 private:
  const rapidjson::Value& object_;
  std::optional<policy::member_index> index_;
};

// Emits the operations turning original into a superset of wanted. Recursion depth is the length
// of the entries' paths, not anything from the admitted object.
result<void> diff(const wanted_tree& tree, std::size_t node, const rapidjson::Value& original,
                  std::string& pointer, json_patch& patch,
                  rapidjson::MemoryPoolAllocator<>& alloc) {
  const original_members members(original);
  for (const auto& member : tree.nodes[node].members) {
    const std::size_t mark = pointer.size();
    append_pointer_token(pointer, member.name);
    const rapidjson::Value* it = members.find(member.name);
    if (it == nullptr || it->IsNull()) {
      // "add" creates the member, or replaces a null one (RFC 6902 4.1).
      if (member.value) {
        patch.add(pointer, *member.value);
      } else {
        patch.add(pointer, to_json(tree, member.map, alloc));
      }
    } else if (member.value) {
      if (!it->IsString() ||
          std::string_view(it->GetString(), it->GetStringLength()) != *member.value) {
        patch.replace(pointer, *member.value);
      }
    } else if (it->IsObject()) {
      auto nested = diff(tree, member.map, *it, pointer, patch, alloc);
      if (!nested) return nested;
    } else {
      return fail(pointer + " is " + json_type_name(*it) + ", not an object");
    }
    pointer.resize(mark);
  }
  return {};
}

// The unescaped tokens of an RFC 6901 JSON Pointer ("" is the whole document: no tokens).
result<std::vector<std::string>> pointer_tokens(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/')
    return fail("JSON Pointer " + std::string(pointer) + " does not start with /");
  for (std::size_t i = 1;; ++i) {
    std::string& token = tokens.emplace_back();
    for (; i < pointer.size() && pointer[i] != '/'; ++i) {
      if (pointer[i] != '~') {
        token.push_back(pointer[i]);
      } else if (i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
        token.push_back(pointer[++i] == '0' ? '~' : '/');
      } else {
        return fail("JSON Pointer " + std::string(pointer) + " has a bad ~ escape");
      }
    }
    if (i >= pointer.size()) return tokens;
  }
}

// An array index token: "0" or digits without a leading zero, below size (or equal, for add).
std::optional<rapidjson::SizeType> array_index(std::string_view token, rapidjson::SizeType limit) {
  if (token.empty() || token.size() > 9 || (token.size() > 1 && token.front() == '0')) return {};
  rapidjson::SizeType index = 0;
  for (const char c : token) {
    if (c < '0' || c > '9') return {};
    index = index * 10 + static_cast<rapidjson::SizeType>(c - '0');
  }
  if (index > limit) return {};
  return index;
}

// The value at tokens, or null when a step does not resolve (for "test").
const rapidjson::Value* resolve(const rapidjson::Value& root,
                                const std::vector<std::string>& tokens) {
  const rapidjson::Value* at = &root;
  for (const std::string& token : tokens) {
    if (at->IsObject()) {
      const auto it = find(*at, token);
      if (it == at->MemberEnd()) return nullptr;
      at = &it->value;
    } else if (at->IsArray()) {
      const auto index = array_index(token, at->Size());
      if (!index || *index == at->Size()) return nullptr;
      at = &(*at)[*index];
    } else {
      return nullptr;
    }
  }
  return at;
}

result<void> apply_operation(rapidjson::Value& document, rapidjson::Document::AllocatorType& alloc,
                             const rapidjson::Value& operation) {
  if (!operation.IsObject()) return fail("a patch operation is not an object");
  const auto op_it = find(operation, "op");
  const auto path_it = find(operation, "path");
  if (op_it == operation.MemberEnd() || !op_it->value.IsString() ||
      path_it == operation.MemberEnd() || !path_it->value.IsString()) {
    return fail("a patch operation lacks a string op or path");
  }
  const std::string_view op(op_it->value.GetString(), op_it->value.GetStringLength());
  const std::string_view path(path_it->value.GetString(), path_it->value.GetStringLength());
  const bool add = op == "add";
  if (!add && op != "replace" && op != "remove" && op != "test")
    return fail("unsupported op " + std::string(op));
  const auto value_it = find(operation, "value");
  if (op != "remove" && value_it == operation.MemberEnd())
    return fail(std::string(op) + " " + std::string(path) + " has no value");
  auto tokens = pointer_tokens(path);
  if (!tokens) return tokens.error();
  if (op == "test") {
    const rapidjson::Value* at = resolve(document, *tokens);
    if (at == nullptr || *at != value_it->value)
      return fail("test " + std::string(path) + " failed");
    return {};
  }
  rapidjson::Value value;
  if (op != "remove") value.CopyFrom(value_it->value, alloc);
  if (tokens->empty()) {
    if (op == "remove") return fail("remove of the whole document");
    document.Swap(value);
    return {};
  }
  rapidjson::Value* parent = &document;
  for (std::size_t i = 0; i + 1 < tokens->size(); ++i) {
    const std::string& token = (*tokens)[i];
    if (parent->IsObject()) {
      // Const lookups: RapidJSON's non-const iterator == is ambiguous in C++20 (clang warns).
      const rapidjson::Value& object = *parent;
      const auto it = find(object, token);
      if (it == object.MemberEnd()) {
        return fail(std::string(path) + std::string(" does not resolve"));
      }
      parent = &(parent->MemberBegin() + (it - object.MemberBegin()))->value;
    } else if (parent->IsArray()) {
      const auto index = array_index(token, parent->Size());
      if (!index || *index == parent->Size())
        return fail(std::string(path) + std::string(" does not resolve"));
      parent = &(*parent)[*index];
    } else {
      return fail(std::string(path) + std::string(" does not resolve"));
    }
  }
  const std::string& last = tokens->back();
  if (parent->IsObject()) {
    const rapidjson::Value& object = *parent;
    const auto found = find(object, last);
    if (found == object.MemberEnd()) {
      if (!add) return fail(std::string(path) + std::string(" does not exist"));
      parent->AddMember(rapidjson::Value(last.data(), size_of(last), alloc), value, alloc);
      return {};
    }
    const auto it = parent->MemberBegin() + (found - object.MemberBegin());
    if (op == "remove") {
      parent->EraseMember(it);
    } else {
      it->value = value;
    }
    return {};
  }
  if (parent->IsArray()) {
    const rapidjson::SizeType size = parent->Size();
    std::optional<rapidjson::SizeType> index = add && last == "-" ? size : array_index(last, size);
    if (!index || (!add && *index == size))
      return fail(std::string(path) + std::string(" does not exist"));
    if (op == "replace") {
      (*parent)[*index] = value;
    } else if (op == "remove") {
      parent->Erase(parent->Begin() + *index);
    } else {
      parent->PushBack(value, alloc);  // then moved into place
      for (rapidjson::SizeType i = size; i > *index; --i) (*parent)[i].Swap((*parent)[i - 1]);
    }
    return {};
  }
  return fail(std::string(path) + std::string(" does not resolve"));
}

}  // namespace

result<void> apply_patch(rapidjson::Value& target, std::string_view patch,
                         rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Document operations;
  if (auto parsed = json::parse(operations, patch); !parsed)
    return fail("invalid patch: " + parsed.error().message);
  if (!operations.IsArray()) return fail("a patch is a JSON array");
  for (const auto& operation : operations.GetArray()) {
    if (auto done = apply_operation(target, alloc, operation); !done) return done;
  }
  return {};
}

result<void> apply_patch(rapidjson::Document& document, std::string_view patch) {
  return apply_patch(document, patch, document.GetAllocator());
}

void append_pointer_token(std::string& pointer, std::string_view token) {
  pointer.push_back('/');
  // The runs between '~' and '/' (usually the whole token) are appended at once; each of the two
  // is searched for again only after its last find was used, so a token costs linear time.
  constexpr auto none = std::string_view::npos;
  std::size_t tilde = token.find('~');
  std::size_t slash = token.find('/');
  for (std::size_t at = 0;;) {
    const std::size_t special = std::min(tilde, slash);
    pointer.append(token.substr(at, special == none ? none : special - at));
    if (special == none) return;
    at = special + 1;
    if (special == tilde) {
      pointer += "~0";
      tilde = token.find('~', at);
    } else {
      pointer += "~1";
      slash = token.find('/', at);
    }
  }
}

std::string json_pointer(std::initializer_list<std::string_view> tokens) {
  std::string pointer;
  for (const auto token : tokens) append_pointer_token(pointer, token);
  return pointer;
}

void json_patch::begin(std::string_view op, std::string_view path) {
  text_.push_back(operations_++ == 0 ? '[' : ',');
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

void json_patch::reserve(std::size_t bytes) {
  text_.reserve(bytes);
}

std::string json_patch::take() && {
  if (operations_ == 0) return {};
  text_.push_back(']');
  return std::move(text_);
}

std::string json_patch::str() const {
  if (operations_ == 0) return {};
  std::string out;
  out.reserve(text_.size() + 1);
  out += text_;
  out.push_back(']');
  return out;
}

result<std::string> patch_for_entries(const rapidjson::Value& object,
                                      std::span<const policy::map_entry> entries) {
  return patch_for_mutation(object, entries, {});
}

result<std::string> patch_for_mutation(const rapidjson::Value& object,
                                       std::span<const policy::map_entry> entries,
                                       std::string_view scheduling_gate) {
  using patch_result = result<std::string>;
  if (entries.empty() && scheduling_gate.empty())
    return patch_result(boost::system::in_place_value);
  if (!object.IsObject()) {
    return fail(std::string("the admitted object is ") + json_type_name(object) +
                ", not an object");
  }
  wanted_tree wanted;
  if (auto built = build_wanted(wanted, entries); !built) return built.error();
  json_patch patch;
  // Room for every operation (a string add or replace writes its path and value and ~40 more
  // bytes), so the text is allocated once.
  std::size_t estimate = 2;
  for (const auto& entry : entries) {
    estimate += 64 + entry.map_name.size() + 2 * (entry.key.size() + entry.value.size());
    for (const auto& step : entry.metadata_path) estimate += 1 + step.size();
  }
  patch.reserve(estimate);
  // The pointer being written: the thread's, its room kept across requests (cleared here, and no
  // call below re-enters this function).
  thread_local std::string pointer;
  pointer.clear();
  // One small pool for the values of all "add"s (each is written out at once).
  rapidjson::MemoryPoolAllocator<> alloc(4096);
  auto done = diff(wanted, 0, object, pointer, patch, alloc);
  // A hostile object's long keys do not stay reserved on this thread.
  if (pointer.capacity() > 4096) std::string().swap(pointer);
  if (!done) return done.error();
  if (!scheduling_gate.empty()) {
    const auto spec = object.FindMember("spec");
    if (spec == object.MemberEnd() || !spec->value.IsObject()) {
      return fail("spec is not an object: no scheduling gate can be added");
    }
    rapidjson::Value gate(rapidjson::kObjectType);
    gate.AddMember("name",
                   rapidjson::Value(scheduling_gate.data(),
                                    static_cast<rapidjson::SizeType>(scheduling_gate.size())),
                   alloc);
    const auto gates = spec->value.FindMember("schedulingGates");
    if (gates == spec->value.MemberEnd() || gates->value.IsNull()) {
      rapidjson::Value list(rapidjson::kArrayType);
      list.PushBack(gate, alloc);
      // A null list is replaced; an absent one added (both are "add" in RFC 6902).
      patch.add("/spec/schedulingGates", list);
    } else if (gates->value.IsArray()) {
      patch.add("/spec/schedulingGates/-", gate);
    } else {
      return fail(std::string("spec.schedulingGates is ") + json_type_name(gates->value) +
                  ", not a list");
    }
  }
  return patch_result(boost::system::in_place_value, std::move(patch).take());
}

}  // namespace mlnetpol::admission
