#include "core/control.hpp"

#include "core/message.hpp"

namespace ccp::core {

void flat_json_writer::key(std::string_view k) {
  if (out_.size() > 1) out_ += ',';
  string(k);
  out_ += ':';
}

void flat_json_writer::string(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out_ += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out_ += '\\';
      out_ += c;
    } else if (u < 0x20) {
      out_ += "\\u00";
      out_ += hex[u >> 4];
      out_ += hex[u & 0xf];
    } else {
      out_ += c;
    }
  }
  out_ += '"';
}

flat_json_writer& flat_json_writer::add(std::string_view k, std::uint64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

flat_json_writer& flat_json_writer::add(std::string_view k, std::string_view v) {
  key(k);
  string(v);
  return *this;
}

flat_json_writer& flat_json_writer::add(std::string_view k, const std::vector<std::string>& v) {
  key(k);
  out_ += '[';
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out_ += ',';
    string(v[i]);
  }
  out_ += ']';
  return *this;
}

flat_json_writer& flat_json_writer::add_raw(std::string_view k, std::string_view json) {
  key(k);
  out_ += json;
  return *this;
}

std::string flat_json_writer::finish() {
  out_ += '}';
  return std::move(out_);
}

namespace {

template <typename T>
const T* find(const flat_json& j, std::string_view key) {
  for (const auto& [k, v] : j.fields)
    if (k == key) return std::get_if<T>(&v);
  return nullptr;
}

class reader {
 public:
  explicit reader(std::string_view s) : s_(s) {}

  std::expected<flat_json, parse_error> object() {
    flat_json j;
    ws();
    if (!eat('{')) return err();
    ws();
    if (eat('}')) return end(std::move(j));
    while (true) {
      ws();
      std::string k;
      if (!str(k)) return err();
      ws();
      if (!eat(':')) return err();
      ws();
      flat_value v;
      if (peek() == '"') {
        std::string sv;
        if (!str(sv)) return err();
        v = std::move(sv);
      } else if (peek() == '[') {
        ++i_;
        std::vector<std::string> list;
        ws();
        if (!eat(']')) {
          while (true) {
            ws();
            std::string item;
            if (!str(item)) return err();
            list.push_back(std::move(item));
            ws();
            if (eat(']')) break;
            if (!eat(',')) return err();
          }
        }
        v = std::move(list);
      } else {
        std::uint64_t n = 0;
        if (!num(n)) return err();
        v = n;
      }
      j.fields.emplace_back(std::move(k), std::move(v));
      ws();
      if (eat('}')) return end(std::move(j));
      if (!eat(',')) return err();
    }
  }

 private:
  std::expected<flat_json, parse_error> end(flat_json j) {
    ws();
    if (i_ != s_.size()) return err();
    return j;
  }
  std::unexpected<parse_error> err() const {
    return std::unexpected(parse_error{parse_errc::bad_field, i_, "body"});
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool eat(char c) {
    if (peek() != c || i_ >= s_.size()) return false;
    ++i_;
    return true;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
  }
  bool num(std::uint64_t& n) {
    std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      auto d = static_cast<std::uint64_t>(s_[i_] - '0');
      if (n > (UINT64_MAX - d) / 10) return false;
      n = n * 10 + d;
      ++i_;
    }
    if (i_ - start > 1 && s_[start] == '0') return fail_at(start + 1);  // after a leading zero
    return i_ > start;
  }
  // Moves back to the byte that does not fit, so that the error names its offset.
  bool fail_at(std::size_t at) {
    i_ = at;
    return false;
  }
  bool str(std::string& out) {
    if (!eat('"')) return false;
    while (i_ < s_.size()) {
      const std::size_t at = i_;  // errors name the control byte or the escape's backslash
      char c = s_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail_at(at);
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) return fail_at(at);
      char e = s_[i_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {  // ASCII only: control messages carry addresses, tokens and ids
          if (s_.size() - i_ < 4) return fail_at(at);
          unsigned v = 0;
          for (int k = 0; k < 4; ++k) {
            char h = s_[i_++];
            v <<= 4;
            if (h >= '0' && h <= '9')
              v |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f')
              v |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
              v |= unsigned(h - 'A' + 10);
            else
              return fail_at(at);
          }
          if (v >= 0x80) return fail_at(at);
          out += static_cast<char>(v);
          break;
        }
        default:
          return fail_at(at);
      }
    }
    return false;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

const std::uint64_t* flat_json::number(std::string_view key) const {
  return find<std::uint64_t>(*this, key);
}
const std::string* flat_json::string(std::string_view key) const {
  return find<std::string>(*this, key);
}
const std::vector<std::string>* flat_json::strings(std::string_view key) const {
  return find<std::vector<std::string>>(*this, key);
}

std::expected<flat_json, parse_error> parse_flat_json(std::string_view text) {
  if (text.size() > max_frame_bytes)
    return std::unexpected(parse_error{parse_errc::too_long, max_frame_bytes, "body"});
  return reader(text).object();
}

std::shared_ptr<std::string> restamp(const std::string& frame, std::uint64_t id) {
  constexpr std::size_t off_id = 8;
  static_assert(off_id + 8 <= header_bytes);
  auto f = std::make_shared<std::string>(frame);
  for (std::size_t i = 0; i < 8; ++i)
    (*f)[off_id + i] = static_cast<char>((id >> (8 * i)) & 0xff);
  return f;
}

std::string link_heartbeat(const address& from, const address& to) {
  message m;
  m.id = 1;
  m.kind = msg_kind::notification;
  m.from = from;
  m.to = to;
  m.type = "ccp.hb";
  std::string frame;
  if (!encode(m, frame)) frame.clear();
  return frame;
}

}  // namespace ccp::core
