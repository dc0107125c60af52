#include "apps/text.h"

#include <cstdint>
#include <span>

#include "http/grammar.h"
#include "ws/utf8.h"

namespace wsedge::app {
namespace {

using http::hex_value;

// Form decoding: a malformed %-escape is kept as it is rather than refused.
std::string form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A cursor over JSON text. Every method leaves pos_ just past what it read, and returns
// false on anything RFC 8259 does not allow there.
class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}

  void skip_blanks() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool eat(char c) {
    skip_blanks();
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool peek(char c) {
    skip_blanks();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  bool at_end() {
    skip_blanks();
    return pos_ == s_.size();
  }

  bool read_hex4(uint32_t* v) {
    if (s_.size() - pos_ < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex_value(s_[pos_++]);
      if (h < 0) return false;
      *v = *v * 16 + static_cast<uint32_t>(h);
    }
    return true;
  }

  bool read_escape(std::string& out) {
    if (pos_ >= s_.size()) return false;
    char e = s_[pos_++];
    switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        return true;
      case 'b':
        out += '\b';
        return true;
      case 'f':
        out += '\f';
        return true;
      case 'n':
        out += '\n';
        return true;
      case 'r':
        out += '\r';
        return true;
      case 't':
        out += '\t';
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    uint32_t cp = 0;
    if (!read_hex4(&cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF) {  // RFC 8259 §7: a pair of \u escapes
      uint32_t low = 0;
      if (s_.substr(pos_, 2) != "\\u") return false;
      pos_ += 2;
      if (!read_hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return false;  // a lone low surrogate is no character
    }
    append_utf8(out, cp);
    return true;
  }

  bool read_string(std::string* out) {
    if (!eat('"')) return false;
    std::string value;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') {
        if (out != nullptr) *out = std::move(value);
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (!read_escape(value)) return false;
      } else {
        value += c;
      }
    }
    return false;
  }

  // Any value we do not need: strings, numbers, literals, nested containers.
  bool skip_value(int depth = 0) {
    if (depth > 32) return false;  // nesting deep enough to be an attack, not a chat line
    skip_blanks();
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '"') return read_string(nullptr);
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++pos_;
      if (eat(close)) return true;
      do {
        if (c == '{' && (!read_string(nullptr) || !eat(':'))) return false;
        if (!skip_value(depth + 1)) return false;
      } while (eat(','));
      return eat(close);
    }
    size_t start = pos_;
    while (pos_ < s_.size() &&
           std::string_view("+-.0123456789eEtruefalsn").find(s_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
    return pos_ > start;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

bool query_param(std::string_view query, std::string_view name, std::string* value) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (form_decode(key) != name) continue;
    *value = eq == std::string_view::npos ? std::string{} : form_decode(pair.substr(eq + 1));
    return true;
  }
  return false;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  out += '"';
}

bool json_string_member(std::string_view json, std::string_view key, std::string* value) {
  JsonReader r(json);
  if (!r.eat('{')) return false;
  bool found = false;
  if (!r.peek('}')) {
    do {
      std::string name;
      if (!r.read_string(&name) || !r.eat(':')) return false;
      if (name == key && !found && r.peek('"')) {
        if (!r.read_string(value)) return false;
        found = true;
      } else if (!r.skip_value()) {
        return false;
      }
    } while (r.eat(','));
  }
  return r.eat('}') && r.at_end() && found;
}

std::string repair_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t start = 0;  // first byte of the character being read
  uint8_t state = ws::Utf8Validator::kAccept;
  for (size_t i = 0; i < bytes.size(); ++i) {
    state = ws::utf8_dfa_step(state, static_cast<uint8_t>(bytes[i]));
    if (state == ws::Utf8Validator::kAccept) {
      out.append(bytes.substr(start, i + 1 - start));
      start = i + 1;
    } else if (state == ws::Utf8Validator::kReject) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      // The offending byte may itself begin a valid character: read it again, unless it
      // was the first byte of the sequence (then it is simply bad).
      if (i > start) --i;
      start = i + 1;
      state = ws::Utf8Validator::kAccept;
    }
  }
  if (start < bytes.size()) out += "\xEF\xBF\xBD";  // cut inside a character
  return out;
}

size_t utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t n = max;
  // Back off over continuation bytes (10xxxxxx) to the start of the character at s[n].
  for (int k = 0; k < 3 && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80; ++k)
    --n;
  return n;
}

std::string clean_label(std::string_view raw, size_t max_bytes) {
  std::string kept;
  for (char c : raw) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7F) kept += c;
  }
  std::string s = repair_utf8(kept);
  size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return {};
  s.erase(0, b);
  s.erase(s.find_last_not_of(' ') + 1);
  s.resize(utf8_prefix(s, max_bytes));
  return s;
}

bool split_command(std::string_view line, std::vector<std::string>* argv, std::string* error) {
  argv->clear();
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        word += line[++i];
      } else {
        word += c;
      }
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) argv->push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      in_word = true;
      if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '\\' && i + 1 < line.size()) {
        word += line[++i];
      } else {
        word += c;
      }
    }
  }
  if (quote != 0) {
    *error = "unterminated quote";
    return false;
  }
  if (in_word) argv->push_back(std::move(word));
  if (argv->empty()) {
    *error = "empty command";
    return false;
  }
  return true;
}

bool secret_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace wsedge::app
