#include "app/options.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace ccp::app {
namespace {

const option_spec* find_spec(std::span<const option_spec> specs, std::string_view name) {
  for (const auto& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

std::string env_name(std::string_view option) {
  std::string n = "CCP_";
  for (char c : option)
    n += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return n;
}

std::expected<std::string, std::string> json_scalar(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number()) return v.dump();
  if (v.is_object()) return v.dump();  // e.g. a body
  return std::unexpected(std::string("expected a string, number or boolean"));
}

}  // namespace

std::expected<options, std::string> options::parse(std::span<const std::string_view> args,
                                                   std::span<const option_spec> specs,
                                                   std::size_t max_positional) {
  options o;
  std::map<std::string, std::vector<std::string>, std::less<>> flags;
  std::optional<std::string> config;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      o.help_ = true;
      continue;
    }
    if (!a.starts_with("--") || a == "--") {
      o.pos_.emplace_back(a);
      continue;
    }
    std::string_view name = a.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    if (name == "config") {
      if (!value) {
        if (i + 1 >= args.size()) return std::unexpected("option --config needs a FILE");
        value = std::string(args[++i]);
      }
      config = *value;
      continue;
    }
    const option_spec* s = find_spec(specs, name);
    if (!s) return std::unexpected("unknown option --" + std::string(name));
    if (!value) {
      if (s->value.empty()) {
        value = "true";
      } else {
        if (i + 1 >= args.size())
          return std::unexpected("option --" + std::string(name) + " needs a " +
                                 std::string(s->value));
        value = std::string(args[++i]);
      }
    }
    auto& v = flags[std::string(name)];
    if (!s->repeat) v.clear();
    v.push_back(std::move(*value));
  }
  if (o.pos_.size() > max_positional)
    return std::unexpected("unexpected argument '" + o.pos_[max_positional] + "'");

  // Lowest precedence first: environment, then the config file, then the flags.
  for (const auto& s : specs) {
    if (const char* e = std::getenv(env_name(s.name).c_str()); e && *e)
      o.values_[std::string(s.name)] = {e};
  }
  if (config) {
    std::ifstream in(*config);
    if (!in) return std::unexpected("config file '" + *config + "': cannot be read");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      return std::unexpected("config file '" + *config + "': " + e.what());
    }
    if (!j.is_object()) return std::unexpected("config file '" + *config + "': expected an object");
    for (const auto& [key, v] : j.items()) {
      const option_spec* s = find_spec(specs, key);
      if (!s)
        return std::unexpected("config file '" + *config + "': unknown option \"" + key + "\"");
      std::vector<std::string> vals;
      if (v.is_array()) {
        if (!s->repeat)
          return std::unexpected("config file '" + *config + "': \"" + key +
                                 "\": expected one value, not a list");
        for (const auto& item : v) {
          auto x = json_scalar(item);
          if (!x)
            return std::unexpected("config file '" + *config + "': \"" + key + "\": " + x.error());
          vals.push_back(*x);
        }
      } else {
        auto x = json_scalar(v);
        if (!x)
          return std::unexpected("config file '" + *config + "': \"" + key + "\": " + x.error());
        vals.push_back(*x);
      }
      o.values_[key] = std::move(vals);
    }
  }
  for (auto& [k, v] : flags)
    o.values_[k] = std::move(v);
  return o;
}

std::optional<std::string> options::get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string options::get_or(std::string_view name, std::string_view fallback) const {
  auto v = get(name);
  return v ? *v : std::string(fallback);
}

bool options::on(std::string_view name) const {
  auto v = get(name);
  return v && (*v == "true" || *v == "1" || *v == "yes");
}

std::vector<std::string> options::list(std::string_view name) const {
  std::vector<std::string> out;
  auto it = values_.find(name);
  if (it == values_.end()) return out;
  for (const auto& v : it->second) {
    std::stringstream ss(v);
    std::string part;
    while (std::getline(ss, part, ','))
      if (!part.empty()) out.push_back(part);
  }
  return out;
}

std::string options_help(std::string_view usage, std::span<const option_spec> specs) {
  std::string h =
      "usage: " + std::string(usage) + "\n\noptions (flag > --config FILE > CCP_* env):\n";
  // "  --NAME VALUE" padded to one column for every option's help text.
  auto line = [&h](std::string left, std::string_view help) {
    if (left.size() < 26)
      left.resize(26, ' ');
    else
      left += "  ";
    h += left;
    h += help;
  };
  for (const auto& s : specs) {
    std::string left = "  --" + std::string(s.name);
    if (!s.value.empty()) left += " " + std::string(s.value);
    line(std::move(left), s.help);
    h += "  [" + env_name(s.name) + "]\n";
  }
  line("  --config FILE", "JSON object of the options above\n");
  return h;
}

std::expected<long long, std::string> parse_duration_micros(std::string_view text) {
  std::size_t i = 0;
  double v = 0;
  bool digits = false;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    v = v * 10 + (text[i++] - '0');
    digits = true;
  }
  if (i < text.size() && text[i] == '.') {
    double scale = 0.1;
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      v += (text[i] - '0') * scale;
      scale /= 10;
      digits = true;
    }
  }
  const std::string_view unit = text.substr(i);
  double f = 0;
  if (unit == "us")
    f = 1;
  else if (unit == "ms")
    f = 1e3;
  else if (unit == "s")
    f = 1e6;
  else if (unit == "m")
    f = 60e6;
  if (!digits || f == 0)
    return std::unexpected("duration '" + std::string(text) +
                           "': expected a number and a unit (us, ms, s, m), e.g. 500ms");
  return static_cast<long long>(v * f);
}

}  // namespace ccp::app
