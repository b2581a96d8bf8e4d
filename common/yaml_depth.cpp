// The YAML nesting bound (common/yaml_depth.hpp). One pass that follows yaml-cpp 0.7's scanner
// (src/scanner.cpp, scantoken.cpp, scanscalar.cpp, simplekey.cpp): the same token starts, the same
// indentation stack (explicit, not recursive) and the same ends of quoted, plain and block scalars,
// so text yaml-cpp reads as a scalar is text here too and every collection it opens is counted.
// Where yaml-cpp stops with an error the scan stops too: nothing after that point is parsed.
#include "common/yaml_depth.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

namespace mlnetpol::yaml {
namespace {

// yaml-cpp refuses a simple key longer than this (VerifySimpleKey).
constexpr std::size_t max_simple_key = 1024;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool one_of(char c, const char* set) { return c != '\0' && std::strchr(set, c) != nullptr; }

bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Exp::Tag plus the '!' of handles (a second handle is the parser's error, not a new token).
bool is_tag_char(char c) { return is_word(c) || one_of(c, "#;/?:@&=+$_.~*'()!%"); }

bool is_uri_char(char c) { return is_word(c) || one_of(c, "#;/?:@&=+$,_.!~*'()[]%"); }

class depth_scanner {
 public:
  depth_scanner(std::string_view text, unsigned max_depth) : s_(text), max_(max_depth) {}

  result<void> run();

 private:
  // yaml-cpp's IndentMarker: an open block collection at a column (a MAP unless seq).
  // A simple key's map is unknown until its ':' (valid) or the end of its line (invalid).
  enum class status { valid, unknown, invalid };
  struct indent {
    long column = 0;
    bool seq = false;
    status state = status::valid;
    unsigned long id = 0;
  };
  // An open flow collection; indicators: '?' and ':' seen in its current entry.
  struct flow {
    bool seq = false;
    unsigned indicators = 0;
    unsigned extra = 0;  // levels those indicators added
  };
  // The potential simple key of the block context (flow levels keep theirs to themselves).
  struct simple_key {
    bool active = false;
    std::size_t line = 0;
    std::size_t pos = 0;
    std::size_t index = 0;  // its indent, when it pushed one (id 0: none)
    unsigned long id = 0;
  };

  char at(std::size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
  bool eof(std::size_t i) const { return i >= s_.size(); }
  bool is_break(std::size_t i) const {
    return at(i) == '\n' || (at(i) == '\r' && at(i + 1) == '\n');
  }
  std::size_t break_length(std::size_t i) const { return at(i) == '\r' ? 2 : 1; }
  bool blank_or_break(std::size_t i) const { return is_blank(at(i)) || is_break(i); }
  bool blank_break_or_end(std::size_t i) const { return eof(i) || blank_or_break(i); }
  // Exp::BlankOrBreak + Exp::Comment: where a plain scalar ends before a comment.
  bool comment_follows(std::size_t i) const {
    if (is_blank(at(i))) return at(i + 1) == '#';
    return is_break(i) && at(i + break_length(i)) == '#';
  }
  long column(std::size_t i) const { return static_cast<long>(i - line_start_); }
  void new_line(std::size_t i) {
    ++line_;
    line_start_ = i;
  }
  bool block() const { return flows_.empty(); }
  long top_indent() const { return indents_.empty() ? -1 : indents_.back().column; }
  bool is_block_entry(std::size_t i) const { return at(i) == '-' && blank_break_or_end(i + 1); }
  bool is_doc_indicator(std::size_t i) const {
    const std::string_view rest = s_.substr(std::min(i, s_.size()));
    return (rest.starts_with("---") || rest.starts_with("...")) && blank_break_or_end(i + 3);
  }

  void note_depth() {
    if (deep_line_ == 0 && indents_.size() + flow_depth_ > max_) deep_line_ = line_;
  }
  bool push_indent(long column, bool seq, bool pseudo = false);
  void pop_indents_to(long column, bool block_entry);
  void insert_key(std::size_t i, long column);
  bool verify_key(std::size_t i);
  void mark_key(status state);
  void invalidate_key();
  bool at_root() const;
  void pop_all();
  void flow_indicator();
  bool plain_end(std::size_t i) const;
  bool scan_quoted(std::size_t& i);
  bool scan_plain(std::size_t& i, long column);
  bool scan_block_scalar(std::size_t& i);

  std::string_view s_;
  unsigned max_;
  std::size_t line_ = 1;
  std::size_t line_start_ = 0;
  std::size_t deep_line_ = 0;
  std::vector<indent> indents_;
  std::vector<flow> flows_;
  std::size_t flow_depth_ = 0;
  bool simple_allowed_ = true;
  bool node_expected_ = true;  // the last token was "- ", "? ", ": " or a document start
  simple_key key_;
  unsigned long next_id_ = 1;
};

// PushIndentTo: a deeper column opens a block collection, and so does a sequence at its map's
// column. A pseudo push stands for a ':' that opens no block map, yet starts a one-pair map ("a:"
// then lines of ":" nest a level each); the copy of the top keeps the stack's columns, so it goes
// when that map goes.
bool depth_scanner::push_indent(long column, bool seq, bool pseudo) {
  if (!block()) return false;
  if (!indents_.empty()) {
    const indent& top = indents_.back();
    if (column < top.column || (column == top.column && !(seq && !top.seq))) {
      if (!pseudo) return false;
      indents_.push_back({top.column, top.seq, status::valid, next_id_++});
      note_depth();
      return true;
    }
  }
  indents_.push_back({column, seq, status::valid, next_id_++});
  note_depth();
  return true;
}

// PopIndentToHere: a token closes the block collections at deeper columns (and a sequence at its
// own column unless the token is another "- "), then the maps of keys that were not keys. Popping
// a map that is not valid drops the pending simple key (PopIndent).
void depth_scanner::pop_indents_to(long column, bool block_entry) {
  const auto pop = [this] {
    const bool valid = indents_.back().state == status::valid;
    indents_.pop_back();
    if (!valid) invalidate_key();
  };
  while (!indents_.empty()) {
    const indent& top = indents_.back();
    if (top.column < column) break;
    if (top.column == column && !(top.seq && !block_entry)) break;
    pop();
  }
  while (!indents_.empty() && indents_.back().state == status::invalid) pop();
}

bool depth_scanner::at_root() const {
  return std::none_of(indents_.rbegin(), indents_.rend(),
                      [](const indent& i) { return i.state == status::valid; });
}

// InsertPotentialSimpleKey: any node may turn out to be a key ("name: x"), so its map is pushed now.
void depth_scanner::insert_key(std::size_t i, long column) {
  if (!block() || !simple_allowed_ || key_.active) return;
  key_ = {true, line_, i, 0, 0};
  if (push_indent(column, false)) {
    indents_.back().state = status::unknown;
    key_.index = indents_.size() - 1;
    key_.id = indents_.back().id;
  }
}

void depth_scanner::mark_key(status state) {
  if (key_.id != 0 && key_.index < indents_.size() && indents_[key_.index].id == key_.id) {
    indents_[key_.index].state = state;
  }
}

void depth_scanner::invalidate_key() {
  if (!key_.active) return;
  key_.active = false;
  mark_key(status::invalid);
}

// VerifySimpleKey: a key ends on its own line within 1024 bytes.
bool depth_scanner::verify_key(std::size_t i) {
  if (!key_.active) return false;
  if (key_.line == line_ && i - key_.pos <= max_simple_key) {
    key_.active = false;
    mark_key(status::valid);
    return true;
  }
  invalidate_key();
  return false;
}

// A directive or document marker: PopAllIndents (outside flow) and PopAllSimpleKeys.
void depth_scanner::pop_all() {
  if (block()) indents_.clear();
  key_.active = false;
  simple_allowed_ = false;
}

// '?' and ':' inside a flow collection: the first of an entry is the entry's own key or value (a
// flow sequence's entry map is counted with the sequence); each further one can open a map.
void depth_scanner::flow_indicator() {
  flow& f = flows_.back();
  if (f.indicators++ > 0) {
    ++f.extra;
    ++flow_depth_;
    note_depth();
  }
}

// Exp::ScanScalarEnd and Exp::ScanScalarEndInFlow.
bool depth_scanner::plain_end(std::size_t i) const {
  if (comment_follows(i)) return true;
  if (block()) return at(i) == ':' && blank_break_or_end(i + 1);
  if (at(i) == ':' && (blank_break_or_end(i + 1) || one_of(at(i + 1), ",]}"))) return true;
  return one_of(at(i), ",?[]{}");
}

// A single- ('' escapes a quote) or double-quoted (backslash escapes) scalar, over lines.
// False when it does not end: yaml-cpp stops there.
bool depth_scanner::scan_quoted(std::size_t& i) {
  const char quote = at(i++);
  while (true) {
    if (eof(i)) return false;
    if (is_break(i)) {
      i += break_length(i);
      new_line(i);
      continue;
    }
    const char c = at(i);
    if (quote == '"' && c == '\\') {
      ++i;
      if (is_break(i)) {
        i += break_length(i);
        new_line(i);
      } else if (!eof(i)) {
        ++i;
      }
      continue;
    }
    if (c == quote) {
      if (quote == '\'' && at(i + 1) == '\'') {
        i += 2;
        continue;
      }
      ++i;
      return true;
    }
    ++i;
  }
}

// ScanPlainScalar: to ": ", " #" or a flow indicator; in the block context it goes on over lines
// indented deeper than the enclosing collection. False when nothing here starts a plain scalar.
bool depth_scanner::scan_plain(std::size_t& i, long column) {
  const long indent = block() ? top_indent() + 1 : 0;
  insert_key(i, column);
  const std::size_t start = i;
  bool leading_spaces = false;
  while (true) {
    bool ended = false;
    while (!eof(i) && !is_break(i)) {
      if (plain_end(i) || (this->column(i) == 0 && is_doc_indicator(i))) {
        ended = true;
        break;
      }
      ++i;
    }
    if (ended || eof(i) || plain_end(i)) break;
    i += break_length(i);
    new_line(i);
    while (at(i) == ' ' && this->column(i) < indent && !plain_end(i)) ++i;
    while (is_blank(at(i)) && !plain_end(i)) {
      if (at(i) == '\t' && this->column(i) < indent) return false;  // tab as indentation
      ++i;
    }
    if (!is_break(i) && this->column(i) < indent) {
      leading_spaces = true;
      break;
    }
  }
  if (i == start) return false;
  simple_allowed_ = leading_spaces;
  return true;
}

// ScanBlockScalar ('|' or '>', block context): the header line, then every line indented at least
// as deep as the content (detected from the first non-empty line) or empty. Its text is not YAML.
bool depth_scanner::scan_block_scalar(std::size_t& i) {
  ++i;
  long indent = 1;
  bool detect = true;
  const auto chomp = [](char c) { return c == '+' || c == '-'; };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (chomp(at(i))) {
    ++i;
    if (digit(at(i))) {
      indent = at(i++) - '0';
      detect = false;
    }
  } else if (digit(at(i))) {
    indent = at(i++) - '0';
    detect = false;
    if (chomp(at(i))) ++i;
  }
  if (!detect && indent == 0) return false;
  while (is_blank(at(i))) ++i;
  if (at(i) == '#')
    while (!eof(i) && !is_break(i)) ++i;
  if (!eof(i) && !is_break(i)) return false;
  if (top_indent() >= 0) indent += top_indent();
  bool found_content = false;
  while (!eof(i)) {
    i += break_length(i);
    new_line(i);
    while (at(i) == ' ' && (column(i) < indent || (detect && !found_content))) ++i;
    if (detect && !found_content) indent = std::max(indent, column(i));
    if (at(i) == '\t' && column(i) < indent) return false;  // tab as indentation
    if (!is_break(i) && column(i) < indent) break;
    while (!eof(i) && !is_break(i)) {
      found_content = true;
      ++i;
    }
  }
  simple_allowed_ = true;
  return true;
}

result<void> depth_scanner::run() {
  if (const auto nul = s_.find('\0'); nul != std::string_view::npos) {
    const auto line = std::count(s_.begin(), s_.begin() + static_cast<std::ptrdiff_t>(nul), '\n');
    return fail("YAML text must be UTF-8: a NUL byte at line " + std::to_string(line + 1));
  }
  if (s_.starts_with("\xFE\xFF") || s_.starts_with("\xFF\xFE"))
    return fail("YAML text must be UTF-8: it starts with a UTF-16 or UTF-32 byte-order mark");
  std::size_t i = 0;
  if (s_.starts_with("\xEF\xBB\xBF")) i = line_start_ = 3;
  while (true) {
    if (deep_line_ != 0) {
      return fail("YAML nests deeper than " + std::to_string(max_) + " levels at line " +
                  std::to_string(deep_line_));
    }
    // ScanToNextToken: blanks, a comment, line breaks.
    while (true) {
      while (is_blank(at(i))) {
        if (block() && at(i) == '\t') simple_allowed_ = false;
        ++i;
      }
      if (at(i) == '#')
        while (!eof(i) && !is_break(i)) ++i;
      if (!is_break(i)) break;
      i += break_length(i);
      new_line(i);
      if (block()) {
        invalidate_key();
        simple_allowed_ = true;
      }
    }
    const long col = column(i);
    if (block()) pop_indents_to(col, is_block_entry(i));
    const bool node_expected = node_expected_;
    node_expected_ = false;
    if (eof(i)) return {};
    const char c = at(i);
    if (col == 0 && c == '%') {  // a directive
      pop_all();
      while (!eof(i) && !is_break(i)) ++i;
      continue;
    }
    if (col == 0 && is_doc_indicator(i)) {
      pop_all();
      node_expected_ = true;
      i += 3;
      continue;
    }
    if (c == '[' || c == '{') {
      insert_key(i, col);
      simple_allowed_ = true;
      flows_.push_back({c == '[', 0, 0});
      flow_depth_ += c == '[' ? 2 : 1;
      note_depth();
      ++i;
      continue;
    }
    if (c == ']' || c == '}') {
      if (block() || flows_.back().seq != (c == ']')) return {};  // yaml-cpp: illegal flow end
      flow_depth_ -= (flows_.back().seq ? 2 : 1) + flows_.back().extra;
      flows_.pop_back();
      simple_allowed_ = false;
      ++i;
      continue;
    }
    if (c == ',') {
      if (!block()) {
        flow_depth_ -= flows_.back().extra;
        flows_.back() = {flows_.back().seq, 0, 0};
      }
      simple_allowed_ = true;
      ++i;
      continue;
    }
    if (is_block_entry(i)) {
      if (!block() || !simple_allowed_) return {};  // yaml-cpp: illegal block entry
      push_indent(col, true);
      simple_allowed_ = true;
      node_expected_ = true;
      ++i;
      continue;
    }
    if (c == '?' && blank_or_break(i + 1)) {
      if (block()) {
        if (!simple_allowed_) return {};  // yaml-cpp: illegal map key
        push_indent(col, false);
      } else {
        flow_indicator();
      }
      simple_allowed_ = block();
      node_expected_ = true;
      ++i;
      continue;
    }
    // In flow every ':' at a token start is taken as a value: where yaml-cpp reads ":x" as a plain
    // scalar instead, the scalar ends at the same place and only the count is higher.
    if (c == ':' && (!block() || blank_break_or_end(i + 1))) {
      if (!block()) {
        flow_indicator();
        simple_allowed_ = false;
      } else if (verify_key(i)) {
        simple_allowed_ = false;
      } else {
        if (!simple_allowed_) return {};  // yaml-cpp: illegal map value
        // Right after "- ", "? " or ": ", or where a document ends (no open block collection),
        // the parser reads a ':' that opens no block map as a one-pair map of its own.
        push_indent(col, false, node_expected || at_root());
        simple_allowed_ = true;
      }
      node_expected_ = true;
      ++i;
      continue;
    }
    if (c == '&' || c == '*') {  // an anchor or alias: its name runs to a blank or flow indicator
      insert_key(i, col);
      simple_allowed_ = false;
      ++i;
      while (!eof(i) && !blank_or_break(i) && !one_of(at(i), "[]{},")) ++i;
      if (at(i) == '[' || at(i) == '{') return {};  // yaml-cpp: illegal character in anchor
      continue;
    }
    if (c == '!') {  // a tag: a token may follow it directly ("!t[a]", "!t\"x\"")
      insert_key(i, col);
      simple_allowed_ = false;
      ++i;
      if (at(i) == '<') {
        ++i;
        while (!eof(i) && at(i) != '>' && is_uri_char(at(i))) ++i;
        if (at(i) != '>') return {};  // yaml-cpp: verbatim tag not ended
        ++i;
      } else {
        while (!eof(i) && is_tag_char(at(i))) ++i;
      }
      continue;
    }
    if (block() && (c == '|' || c == '>')) {
      if (!scan_block_scalar(i)) return {};
      continue;
    }
    if (c == '\'' || c == '"') {
      insert_key(i, col);
      if (!scan_quoted(i)) return {};
      simple_allowed_ = false;
      continue;
    }
    // Exp::PlainScalar / PlainScalarInFlow refuse these starts: yaml-cpp stops (unknown token).
    if (one_of(c, "%@`") || (!block() && one_of(c, "|>?"))) return {};
    if (!scan_plain(i, col)) return {};
  }
}

}  // namespace

result<void> check_yaml_depth(std::string_view text, unsigned max_depth) {
  return depth_scanner(text, max_depth).run();
}

}  // namespace mlnetpol::yaml
