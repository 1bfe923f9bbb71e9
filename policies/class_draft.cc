#include "policies/class_draft.h"

#include <ctime>
#include <set>
#include <string_view>
#include <vector>

#include "policies/field_path.h"

namespace portier::policies {

namespace {

constexpr std::size_t kMaxClassId = 48;

// A text-format string literal.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Text for a comment: one line, printable.
std::string comment_text(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  return out;
}

std::string utc(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string group_digits(std::uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

std::vector<std::string_view> levels_of(std::string_view topic) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = topic.find('/', start);
    out.push_back(topic.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

// "draft-" and the topic's words in lower case, unique among `taken`.
std::string class_id(std::string_view topic, std::set<std::string>& taken) {
  std::string slug;
  for (std::string_view level : levels_of(topic)) {
    if (level == "+" || level == "#") continue;
    for (char c : level) {
      const char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      const bool keep = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
      if (keep) {
        slug += l;
      } else if (!slug.empty() && slug.back() != '-') {
        slug += '-';
      }
    }
    if (!slug.empty() && slug.back() != '-') slug += '-';
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  std::string base = slug.empty() ? "draft" : "draft-" + slug;
  if (base.size() > kMaxClassId - 4) base.resize(kMaxClassId - 4);
  while (base.back() == '-') base.pop_back();
  std::string id = base;
  for (int n = 2; taken.count(id) != 0; ++n) id = base + "-" + std::to_string(n);
  taken.insert(id);
  return id;
}

// The shape's topic as a filter: the first "+" captured as {device}.
std::string topic_filter_of(std::string_view topic, bool& captured) {
  std::string out;
  captured = false;
  bool first = true;
  for (std::string_view level : levels_of(topic)) {
    if (!first) out += '/';
    first = false;
    if (level == "+" && !captured) {
      out += "{device}";
      captured = true;
    } else {
      out += level;
    }
  }
  return out;
}

std::string types_text(std::uint8_t types) {
  std::string out;
  for (const auto& t : shape_type_names(types)) out += (out.empty() ? "" : " or ") + t;
  return out;
}

bool has_star_key(const std::vector<path_step>& steps) {
  for (const auto& s : steps) {
    if (!s.each && s.key == "*") return true;
  }
  return false;
}

// Whether `inner` is a path inside `outer` ("a.b" and "a[*]" are inside "a"; "$" holds all).
bool inside(const std::string& inner, const std::string& outer) {
  if (outer == "$") return inner != "$";
  return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
         (inner[outer.size()] == '.' || inner[outer.size()] == '[');
}

void draft_one(std::string& out, const draft_shape& s, std::set<std::string>& ids) {
  const std::uint8_t formats = s.payload.formats;
  // A bare value, as text ("ON") or JSON ("21.5"): a RAW class reads both.
  bool bare = !s.payload.paths.empty();
  for (const shape_path& p : s.payload.paths) bare = bare && p.path == "$";
  const bool raw = bare && (formats & format_text) != 0;
  std::vector<std::string> fields;    // "field { ... }" blocks
  std::vector<std::string> unlisted;  // comment lines
  for (const shape_path& p : s.payload.paths) {
    const std::string shown = "\"" + comment_text(p.path) + "\" (" + types_text(p.types) + ")";
    auto steps = parse_field_path(p.path);
    if (!steps) {
      unlisted.push_back(shown + ": not a path");
      continue;
    }
    if (has_star_key(*steps)) {
      unlisted.push_back(shown + ": through a key that may be a name or an identifier");
      continue;
    }
    if ((p.types & ~(shape_object | shape_array)) == 0) {
      unlisted.push_back(shown +
                         ": an empty or deeply nested container; list its members once seen");
      continue;
    }
    bool holds_others = false;
    for (const shape_path& q : s.payload.paths)
      holds_others = holds_others || inside(q.path, p.path);
    if (holds_others) {
      unlisted.push_back(shown + ": sometimes a value, sometimes holding the paths below");
      continue;
    }
    std::string f = "  # seen as " + types_text(p.types) + "\n";
    f += "  field {\n    path: " + quoted(field_path_text(*steps)) + "\n";
    f += "    why: \"TODO: why a purpose needs it, with a rule; or delete the field\"\n  }\n";
    fields.push_back(std::move(f));
  }
  if (s.payload.truncated)
    unlisted.push_back("more paths than a shape keeps (64): look at a real message");
  if (formats & format_binary) {
    unlisted.push_back("some payloads are not text (binary): nothing of them can be listed");
  }
  if ((formats & format_text) && !raw) {
    unlisted.push_back(
        "some payloads are bare text, not JSON: a RAW class of their own takes those");
  }

  bool captured = false;
  const std::string filter = topic_filter_of(s.topic, captured);
  out += "\n# " + comment_text(s.topic) + ": " + group_digits(s.messages) +
         (s.messages == 1 ? " message" : " messages");
  if (s.first_seen_ms > 0)
    out += ", " + utc(s.first_seen_ms) + " to " + utc(s.last_seen_ms) + " UTC";
  out += "\n";
  if (fields.empty()) {
    out +=
        "# No field to list. To keep these messages home on purpose (ignored_topic, not\n"
        "# unmatched_topic), say why:\n";
    out += "# ignore {\n#   topic: " + quoted(filter) + "\n#   why: \"TODO\"\n# }\n";
    for (const auto& u : unlisted) out += "# " + u + "\n";
    return;
  }
  out += "device_class {\n";
  out += "  id: " + quoted(class_id(s.topic, ids)) + "\n";
  out += "  title: \"TODO: what kind of device sends this\"\n";
  out += "  ecosystem: \"TODO\"\n";
  if (captured) {
    out +=
        "  # {device} is the first level that varied; \"+\" the others. Write a level that is a\n"
        "  # fixed word of the ecosystem as that word, and capture what names the device.\n";
  } else {
    out += "  # No level varied: every message is one device, named by device_id.\n";
  }
  out += "  topic: " + quoted(filter) + "\n";
  if (!captured) out += "  device_id: " + quoted("draft") + "\n";
  if (raw) out += "  format: RAW\n";
  for (const auto& f : fields) out += f;
  if (!unlisted.empty()) {
    out += "  # Not listed, so dropped for every purpose:\n";
    for (const auto& u : unlisted) out += "  #   " + u + "\n";
  }
  out += "}\n";
}

}  // namespace

std::string draft_classes(std::span<const draft_shape> shapes, const std::string& source) {
  std::string out =
      "# Draft device classes by `portier-policy suggest`: " + group_digits(shapes.size()) +
      (shapes.size() == 1 ? " shape" : " shapes") + " of messages no class takes, from\n# " +
      comment_text(source) +
      ".\n"
      "# Nothing here releases anything: a field without a rule is dropped for every purpose.\n"
      "# For each class: give it a title and an ecosystem, check its topic filter, and for each\n"
      "# field decide whether a purpose needs it (add a rule: docs/POLICY.md \"Actions\") or\n"
      "# delete it, and say why. Then check it with the rest of the policy, sign and push it:\n"
      "#   portier-policy check POLICY_DIR THIS_FILE\n";
  std::set<std::string> ids;
  for (const auto& s : shapes) draft_one(out, s, ids);
  return out;
}

}  // namespace portier::policies
