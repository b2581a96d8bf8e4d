#include "common/yaml_depth.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "common/files.hpp"

namespace {

using mlnetpol::yaml::check_yaml_depth;

std::string error_of(const std::string& text, unsigned max_depth = 256) {
  const auto r = check_yaml_depth(text, max_depth);
  return r ? std::string() : r.error().message;
}

std::string repeat(const std::string& piece, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += piece;
  return out;
}

// n keys nested by indentation, one space deeper each, then a last map: n + 1 levels.
std::string block_maps(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += std::string(static_cast<std::size_t>(i), ' ') + "k:\n";
  return out + std::string(static_cast<std::size_t>(n), ' ') + "x: 1\n";
}

// The deepest nesting of collections yaml-cpp's parser reaches on text (its recursion follows it),
// counted on the way even when it stops with an error later.
struct depth_meter : YAML::EventHandler {
  int depth = 0;
  int deepest = 0;
  void OnDocumentStart(const YAML::Mark&) override { depth = 0; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    deepest = std::max(deepest, ++depth);
  }
  void OnSequenceEnd() override { --depth; }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    deepest = std::max(deepest, ++depth);
  }
  void OnMapEnd() override { --depth; }
};

int yaml_cpp_depth(const std::string& text) {
  std::istringstream in(text);
  depth_meter meter;
  try {
    YAML::Parser parser(in);
    // A stray token can start a document that consumes nothing: a bounded number of documents.
    for (int i = 0; i < 64 && parser.HandleNextDocument(meter); ++i) {
    }
  } catch (const YAML::Exception&) {
  }
  return meter.deepest;
}

}  // namespace

TEST_CASE("yaml depth: deep flow collections are refused at the line they reach the limit") {
  const std::string crash_artifact(3822, '[');  // the fuzz stage's slow input
  CHECK(error_of(crash_artifact) == "YAML nests deeper than 256 levels at line 1");
  CHECK(error_of("a: b\nc:\n  - " + std::string(5000, '{')) ==
        "YAML nests deeper than 256 levels at line 3");
  // A flow sequence counts two (its entries may be one-pair maps); a flow map one.
  CHECK(error_of(std::string(127, '[')).empty());
  CHECK_FALSE(error_of(std::string(129, '[')).empty());
  CHECK(error_of(std::string(255, '{')).empty());
  CHECK_FALSE(error_of(std::string(257, '{')).empty());
  // Closed collections give their levels back.
  CHECK(error_of(repeat("[[[[[[[[[[]]]]]]]]]], ", 1000)).empty());
  // ':' chains inside flow: each one after the first of an entry can open a map.
  CHECK_FALSE(error_of("{a: " + repeat(": ", 300) + "b}").empty());
  CHECK_FALSE(error_of("[" + repeat("? ", 300) + "b]").empty());
  CHECK(error_of("[x]", 1).find("nests deeper than 1 levels") != std::string::npos);
}

TEST_CASE("yaml depth: deep block collections, compact forms included") {
  CHECK(error_of(block_maps(255)).empty());
  CHECK(error_of(block_maps(256)) == "YAML nests deeper than 256 levels at line 257");
  CHECK(yaml_cpp_depth(block_maps(30)) == 31);
  // "- - - x": a sequence per dash on one line; "? ? ?" likewise; mixed.
  CHECK_FALSE(error_of(repeat("- ", 300) + "x\n").empty());
  CHECK(error_of(repeat("- ", 200) + "x\n").empty());
  CHECK_FALSE(error_of(repeat("? ", 300) + "x\n").empty());
  CHECK_FALSE(error_of(repeat("- ? ", 150) + "x\n").empty());
  CHECK_FALSE(error_of("a:\n" + repeat("- ", 300) + "x\n").empty());
  // Lines of ':' under a key open no block map, yet the parser nests a map per ':'.
  CHECK_FALSE(error_of("a:\n" + repeat(":\n", 300)).empty());
  CHECK(yaml_cpp_depth("a:\n" + repeat(":\n", 100)) > 100);
  // A sequence of maps is two levels per step.
  std::string seq_of_maps;
  for (int i = 0; i < 130; ++i) seq_of_maps += std::string(static_cast<std::size_t>(2 * i), ' ') + "- k:\n";
  CHECK_FALSE(error_of(seq_of_maps).empty());
  // Deep indentation alone is not nesting.
  CHECK(error_of(std::string(5000, ' ') + "a: b\n").empty());
}

TEST_CASE("yaml depth: brackets in quoted, plain and block scalars and comments are text") {
  const std::string brackets(1000, '[');
  CHECK(error_of("a: \"" + brackets + "\"\n").empty());
  CHECK(error_of("a: \"\\\"" + brackets + "\\\\\"\n").empty());                // escapes
  CHECK(error_of("a: '" + brackets + "''" + brackets + "'\n").empty());          // '' escapes
  CHECK(error_of("a: \"multi\n  line " + brackets + "\n  end\"\nb: 1\n").empty());  // over lines
  CHECK(error_of("a: x" + brackets + "\n").empty());                             // plain
  CHECK(error_of("a: x " + brackets + "\n  continued " + brackets + "\n").empty());
  CHECK(error_of("a: 1 # " + brackets + "\n# " + brackets + "\n").empty());       // comments
  CHECK(error_of("a: |\n  " + brackets + "\n\n  " + brackets + "\nb: >-\n  " + brackets + "\n")
            .empty());
  CHECK(error_of("- |2-\n   " + brackets + "\n- x\n").empty());
  // A shell script in a ConfigMap: [[ ]] tests, an unbalanced [a-z in a regex, quotes, # signs.
  const std::string config_map = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: scripts
  annotations:
    note: "brackets [ in ] strings {"
    other: 'it''s [ fine'
data:
  run.sh: |
    #!/bin/bash
    set -euo pipefail
    if [[ -n "${MODEL:-}" && "$MODEL" =~ ^[a-z ]]; then
      echo "[[[[[[[[ model: $MODEL"
    fi
    grep -E '[a-z' /dev/null || true   # unbalanced on purpose
    for f in {a,b}; do echo "{$f"; done
  filter.yaml: >
    [[[[[[[[[[[[[[[[ folded [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[
  pattern: ^[a-z([0-9
  quoted: "\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\""
)" + std::string("  long: '") + std::string(600, '[') + "'\n";
  CHECK(error_of(config_map).empty());
  CHECK(error_of(config_map, 4).empty());  // four levels deep at most
  CHECK(yaml_cpp_depth(config_map) == 3);
}

TEST_CASE("yaml depth: scalars end where yaml-cpp ends them, so what follows is still counted") {
  const std::string deep(300, '[');
  // After a block scalar, a less indented line is YAML again.
  CHECK_FALSE(error_of("a: |\n  text [\nb: " + deep + "\n").empty());
  CHECK(error_of("a: |\n  text [\nb: " + deep + "\n") == "YAML nests deeper than 256 levels at line 3");
  // A closed quote, with escapes before it.
  CHECK_FALSE(error_of("a: \"x\\\"y\"\nb: " + deep).empty());
  CHECK_FALSE(error_of("a: 'it''s'\nb: " + deep).empty());
  // A quote inside a plain scalar starts no string.
  CHECK_FALSE(error_of("a: b\"c\nd: " + deep).empty());
  CHECK_FALSE(error_of("a: b'c\nd: " + deep).empty());
  // '#' without a blank before it is text; a comment does not hide the next line.
  CHECK_FALSE(error_of("a: b#c\nd: " + deep).empty());
  CHECK_FALSE(error_of("a: b # \"\nd: " + deep).empty());
  // A tag may be followed directly by a flow collection or a quoted scalar.
  CHECK_FALSE(error_of("a: !t" + deep).empty());
  CHECK_FALSE(error_of("a: !t\"x\" \nb: " + deep).empty());
  // Multi-document text: every document counts.
  CHECK_FALSE(error_of("a: 1\n---\nb: 2\n...\n--- " + deep).empty());
}

TEST_CASE("yaml depth: text yaml-cpp would decode as UTF-16 or UTF-32 is refused") {
  CHECK(error_of(std::string("a: b\nc: \0", 9)) == "YAML text must be UTF-8: a NUL byte at line 2");
  CHECK(error_of(std::string("\xFF\xFE" "a\0:\0", 6)).find("UTF-8") != std::string::npos);
  CHECK(error_of("\xFE\xFF" "a: b").find("byte-order mark") != std::string::npos);
  CHECK(error_of("\xEF\xBB\xBF" "a: b\n").empty());  // a UTF-8 byte-order mark is fine
}

// Random text from YAML's significant pieces: whenever the check passes, yaml-cpp nests no deeper
// than the limit (the check is an upper bound of its recursion).
TEST_CASE("yaml depth: an upper bound of yaml-cpp's nesting on random YAML-like text") {
  const std::vector<std::string> pieces{
      "[",     "]",     "{",    "}",   ",",      ": ",  ":",    "- ",    "? ",     "\n",   "\n",
      "  ",    " ",     "a",    "b: ", "'",      "\"",  "#",    "|",     ">",      "|-\n", "&a ",
      "*a",    "!t",    "\\",   "''",  "-",      "?",   "\t",   "--- ",  "x",      "\n  ", "\n    ",
      "\n- ",  "\n? ",  "\n: ", "k: ", "[a]: ",  "\"q\": ", "\"q\":", "!!str ", "%YAML 1.2\n",
      "...",   "\r\n",  "a b",  "1"};
  std::mt19937 random(20261207);
  int checked = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int n = 1 + static_cast<int>(random() % 60);
    for (int i = 0; i < n; ++i) text += pieces[random() % pieces.size()];
    const unsigned limit = 1 + random() % 5;
    if (!check_yaml_depth(text, limit)) continue;
    ++checked;
    CAPTURE(text);
    CAPTURE(limit);
    REQUIRE(yaml_cpp_depth(text) <= static_cast<int>(limit));
  }
  CHECK(checked > 10000);
}

// Every YAML file the project ships or tests with (configs, kubeconfigs, manifests, fixtures)
// passes the check, with room to spare.
TEST_CASE("yaml depth: every YAML file under manifests/, examples/ and tests/ passes") {
  namespace fs = std::filesystem;
  int files = 0;
  for (const char* folder : {"manifests", "examples", "tests"}) {
    const fs::path root = fs::path(MLNETPOL_SOURCE_DIR) / folder;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".yml")) continue;
      const auto text = mlnetpol::files::read(entry.path());
      REQUIRE(text.has_value());
      CAPTURE(entry.path().string());
      CHECK(error_of(*text) == "");
      CHECK(error_of(*text, 32) == "");
      ++files;
    }
  }
  CHECK(files > 10);
}
