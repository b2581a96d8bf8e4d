// Manifests into JSON documents: yaml-cpp for YAML (a JSON file is YAML too, but RapidJSON reads
// JSON exactly and faster, so JSON-looking text takes that path).
#include "app/manifest_documents.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <system_error>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "app/yaml_json.hpp"
#include "common/files.hpp"
#include "common/json.hpp"
#include "common/json_parse.hpp"
#include "common/yaml_depth.hpp"

namespace mlnetpol::app {
namespace {

// yaml-cpp 0.7's LoadAll never returns on some invalid text (a stray `,` at the top level): its
// parser reports an empty document at the same token again and again, and LoadAll keeps each one
// (yaml-cpp#1319, after 0.7). This handler sees a document's events only, to find that token.
class document_events : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {
    events_ = 0;
    null_at_.reset();
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    if (events_++ == 0) null_at_ = mark;
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { ++events_; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    ++events_;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    ++events_;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    ++events_;
  }
  void OnMapEnd() override {}

  // Where the document was one null and nothing else (an empty document), if it was.
  std::optional<YAML::Mark> lone_null() const { return events_ == 1 ? null_at_ : std::nullopt; }

 private:
  std::size_t events_ = 0;
  std::optional<YAML::Mark> null_at_;
};

// The documents of text, as LoadAll reads them; throws what LoadAll throws, and a ParserException
// where LoadAll would loop: two empty documents in a row at one position (each document a parser
// reads otherwise takes at least one token).
std::vector<YAML::Node> load_all(std::string_view text) {
  std::istringstream in{std::string(text)};
  {
    YAML::Parser parser(in);
    document_events events;
    std::optional<YAML::Mark> last_empty;
    while (parser.HandleNextDocument(events)) {
      const auto empty = events.lone_null();
      if (empty && last_empty && empty->pos == last_empty->pos) {
        throw YAML::ParserException(*empty, "unexpected token where a document should start");
      }
      last_empty = empty;
    }
  }
  in.clear();  // the same copy of the text, read again from its start
  in.seekg(0);
  return YAML::LoadAll(in);
}

bool looks_like_json(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
}

}  // namespace

result<rapidjson::Document> parse_documents(std::string_view text, const std::string& source) {
  rapidjson::Document all(rapidjson::kArrayType);
  auto& alloc = all.GetAllocator();
  if (looks_like_json(text)) {
    if (json::parse(all, text)) {
      // The one value becomes the array's only item, in place: its memory is all's already.
      rapidjson::Value only;
      only.Swap(all);
      all.SetArray().PushBack(only, alloc);
      return all;
    }
    all.SetArray();  // whatever a failed parse left
    // Not one JSON value (e.g. JSON documents separated by ---): YAML reads it.
  }
  // yaml-cpp recurses per nesting level: deep text is refused before it parses.
  if (auto bounded = yaml::check_yaml_depth(text); !bounded) {
    return fail(source + ": " + bounded.error().message);
  }
  std::vector<YAML::Node> nodes;
  try {
    nodes = load_all(text);
  } catch (const YAML::Exception& e) {
    return fail(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
  // One budget for all documents: a file of many small bombs is no bigger than one.
  std::size_t budget = yaml_expansion_budget(text.size());
  all.Reserve(static_cast<rapidjson::SizeType>(nodes.size()), alloc);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::vector<yaml_conversion_error> errors;
    rapidjson::Value value = yaml_to_json(nodes[i], alloc, errors, budget);
    if (!errors.empty()) {
      const auto& e = errors.front();
      return fail(source + ": document " + std::to_string(i + 1) + ": line " +
                  std::to_string(e.line) + ": " + e.message +
                  (e.key.empty() ? "" : " \"" + e.key + "\""));
    }
    all.PushBack(value, alloc);
  }
  return all;
}

result<std::vector<manifest_object>> manifest_objects(std::string_view text,
                                                      const std::string& source) {
  auto documents = parse_documents(text, source);
  if (!documents) return documents.error();
  const auto file = std::make_shared<const rapidjson::Document>(std::move(*documents));
  std::vector<manifest_object> out;
  std::size_t number = 0;
  for (const auto& document : file->GetArray()) {
    ++number;
    if (document.IsNull()) continue;  // an empty document (a trailing ---, a comment-only file)
    const std::string where = source + "#" + std::to_string(number);
    auto check = [&](const rapidjson::Value& v, const std::string& at) -> result<void> {
      if (!v.IsObject())
        return fail(at + ": not a Kubernetes object (a map with apiVersion and kind)");
      if (json::string_member(v, "apiVersion").empty() || json::string_member(v, "kind").empty()) {
        return fail(at + ": not a Kubernetes object: apiVersion and kind are required");
      }
      return {};
    };
    if (auto ok = check(document, where); !ok) return ok.error();
    const std::string_view kind = json::string_member(document, "kind");
    const rapidjson::Value* items = json::member(document, "items");
    if (kind.size() >= 4 && kind.substr(kind.size() - 4) == "List" && items != nullptr) {
      if (!items->IsArray()) return fail(where + ": " + std::string(kind) + ".items is not a list");
      std::size_t i = 0;
      for (const auto& item : items->GetArray()) {
        const std::string at = where + ".items[" + std::to_string(i++) + "]";
        if (auto ok = check(item, at); !ok) return ok.error();
        out.push_back({at, file, &item});
      }
      continue;
    }
    out.push_back({where, file, &document});
  }
  return out;
}

result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (input == "-" || !fs::is_directory(input, ec)) {
      out.push_back(input);  // a file that is missing fails when it is read, with its reason
      continue;
    }
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(input, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string ext = it->path().extension().string();
      if (it->is_regular_file(ec) && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
        found.push_back(it->path().string());
      }
    }
    if (ec) return fail(input + ": cannot list: " + ec.message());
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

result<std::string> read_input(const std::string& input) {
  if (input != "-") return files::read(input);
  std::string text(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>{});
  if (std::cin.bad()) return fail("stdin: cannot read");
  return text;
}

}  // namespace mlnetpol::app
