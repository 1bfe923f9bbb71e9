#include "policies/policy_compiler.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <map>

#include "platform/proto_text.h"
#include "policies/json_text.h"

namespace portier::policies {

namespace pb = portier::policy;

std::string_view legal_basis_name(legal_basis b) {
  switch (b) {
    case legal_basis::consent: return "consent";
    case legal_basis::contract: return "contract";
    case legal_basis::legitimate_interest: return "legitimate interest";
    case legal_basis::legal_obligation: return "legal obligation";
  }
  return "consent";
}

std::string_view special_category_name(special_category c) {
  switch (c) {
    case special_category::none: return "none";
    case special_category::health: return "health";
    case special_category::location: return "location";
    case special_category::biometric: return "biometric";
  }
  return "none";
}

int compiled_policy::purpose_index(std::string_view id) const {
  for (std::size_t i = 0; i < purposes_.size(); ++i) {
    if (purposes_[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

const compiled_class* compiled_policy::find_class(std::string_view id) const {
  for (const auto& c : classes_) {
    if (c->id == id) return c.get();
  }
  return nullptr;
}

namespace {

// True if MQTT filter `a` receives every topic `b` receives.
bool covers(std::string_view a, std::string_view b) {
  while (true) {
    const std::size_t sa = a.find('/');
    const std::size_t sb = b.find('/');
    const std::string_view la = a.substr(0, sa);
    const std::string_view lb = b.substr(0, sb);
    if (la == "#") return true;
    if (lb == "#" || (la != "+" && la != lb) || (la == "+" && lb.starts_with('$'))) return false;
    if (sa == std::string_view::npos || sb == std::string_view::npos) {
      // "a/#" also receives "a": b ends here, a may go on only with "#".
      return sa == sb || (sb == std::string_view::npos && a.substr(sa + 1) == "#");
    }
    a.remove_prefix(sa + 1);
    b.remove_prefix(sb + 1);
  }
}

}  // namespace

std::vector<std::string> compiled_policy::subscriptions(std::span<const std::string> extra) const {
  std::vector<std::string> all;
  for (const auto& c : classes_) {
    for (const auto& t : c->topics) {
      std::string s = t.subscription();
      if (std::find(all.begin(), all.end(), s) == all.end()) all.push_back(std::move(s));
    }
  }
  for (const auto& s : extra) {
    if (std::find(all.begin(), all.end(), s) == all.end()) all.push_back(s);
  }
  // A broker delivers a message once per matching subscription: keep only filters no other
  // filter covers, so a message arrives once.
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size(); ++i) {
    bool covered = false;
    for (std::size_t j = 0; j < all.size() && !covered; ++j)
      covered = j != i && covers(all[j], all[i]);
    if (!covered) out.push_back(all[i]);
  }
  return out;
}

namespace {

// A field path inside a source file: {"device_class", 2}, {"id"} -> device_class[2].id.
using step = platform::field_step;
using where = std::vector<step>;

where operator+(where w, step s) {
  w.push_back(s);
  return w;
}

bool valid_id(std::string_view id, std::size_t max) {
  if (id.empty() || id.size() > max || !(id[0] >= 'a' && id[0] <= 'z')) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

constexpr double kMinRoundStep = 1e-9;           // decimals_for_step() prints at most 9 decimals
constexpr std::uint32_t kMaxKeepLength = 65536;  // a payload is at most 64 KiB by default

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

class policy_compiler {
 public:
  explicit policy_compiler(std::span<const policy_source> sources) : sources_(sources) {}

  compile_result run() {
    out_ = std::make_shared<compiled_policy>();
    header();
    for (std::size_t f = 0; f < sources_.size(); ++f) {
      for (int i = 0; i < sources_[f].policy.purpose_size(); ++i) purpose(f, i);
    }
    for (std::size_t f = 0; f < sources_.size(); ++f) {
      for (int i = 0; i < sources_[f].policy.device_class_size(); ++i) device_class(f, i);
    }
    for (std::size_t f = 0; f < sources_.size(); ++f) {
      for (int i = 0; i < sources_[f].policy.ignore_size(); ++i) ignore(f, i);
    }
    if (out_->purposes_.empty()) error_global("a policy needs at least one purpose");
    if (out_->classes_.empty()) error_global("a policy needs at least one device_class");
    if (out_->purposes_.size() > kMaxPurposes) error_global("more than 32 purposes");
    if (out_->classes_.size() > kMaxClasses) error_global("more than 256 device classes");
    routes();
    compile_result r;
    r.errors = std::move(errors_);
    if (r.errors.empty()) r.policy = std::move(out_);
    return r;
  }

 private:
  // ---- errors -----------------------------------------------------------------------------
  void error(std::size_t file, const where& w, const std::string& message) {
    const policy_source& src = sources_[file];
    errors_.push_back(platform::describe_field(src.path, src.locations.get(), src.policy, w) + ": " +
                      message);
  }

  void error_global(const std::string& message) {
    std::string files;
    for (const auto& s : sources_) files += (files.empty() ? "" : ", ") + s.path;
    errors_.push_back((files.empty() ? std::string("(no files)") : files) + ": " + message);
  }

  std::string location_text(std::size_t file, const where& w) {
    const std::size_t before = errors_.size();
    error(file, w, "");
    std::string s = errors_.back();
    errors_.resize(before);
    const auto cut = s.find(": ");
    return s.substr(0, cut);
  }

  // ---- header -----------------------------------------------------------------------------
  void header() {
    int name_file = -1, version_file = -1;
    for (std::size_t f = 0; f < sources_.size(); ++f) {
      const auto& p = sources_[f].policy;
      if (!p.name().empty()) {
        if (name_file >= 0) {
          error(f, {{"name"}}, "the policy name is already set in " + sources_[name_file].path);
        } else {
          name_file = static_cast<int>(f);
          out_->name_ = p.name();
        }
      }
      if (p.version() != 0) {
        if (version_file >= 0) {
          error(f, {{"version"}}, "the policy version is already set in " + sources_[version_file].path);
        } else {
          version_file = static_cast<int>(f);
          out_->version_ = p.version();
        }
      }
    }
    if (out_->name_.size() > 64) error(name_file, {{"name"}}, "longer than 64 characters");
  }

  // ---- purposes ---------------------------------------------------------------------------
  void purpose(std::size_t f, int i) {
    const pb::Purpose& p = sources_[f].policy.purpose(i);
    const where w{{"purpose", i}};
    const std::size_t before = errors_.size();
    compiled_purpose c;
    c.id = p.id();
    if (!valid_id(p.id(), 32)) {
      error(f, w + step{"id"},
            "purpose id " + quoted(p.id()) +
                " must be 1 to 32 lower-case letters, digits or '-', starting with a letter");
    } else if (auto it = purpose_sites_.find(p.id()); it != purpose_sites_.end()) {
      error(f, w + step{"id"}, "duplicate purpose id " + quoted(p.id()) + ", first defined at " + it->second);
    }
    if (p.title().empty()) error(f, w + step{"title"}, "every purpose needs a title the household can read");
    if (p.title().size() > 120) error(f, w + step{"title"}, "longer than 120 characters");
    if (p.description().size() > 2000) error(f, w + step{"description"}, "longer than 2000 characters");
    c.title = p.title();
    c.description = p.description();
    switch (p.legal_basis()) {
      case pb::Purpose::CONSENT: c.basis = legal_basis::consent; break;
      case pb::Purpose::CONTRACT: c.basis = legal_basis::contract; break;
      case pb::Purpose::LEGITIMATE_INTEREST: c.basis = legal_basis::legitimate_interest; break;
      case pb::Purpose::LEGAL_OBLIGATION: c.basis = legal_basis::legal_obligation; break;
      default:
        error(f, w + step{"legal_basis"},
              "legal_basis must be CONSENT, CONTRACT, LEGITIMATE_INTEREST or LEGAL_OBLIGATION");
    }
    switch (p.special_category()) {
      case pb::Purpose::NOT_SPECIAL: c.category = special_category::none; break;
      case pb::Purpose::HEALTH: c.category = special_category::health; break;
      case pb::Purpose::LOCATION: c.category = special_category::location; break;
      case pb::Purpose::BIOMETRIC: c.category = special_category::biometric; break;
      default: error(f, w + step{"special_category"}, "unknown special category");
    }
    if (p.retention_seconds() < 1 || p.retention_seconds() > 31'536'000) {
      error(f, w + step{"retention_seconds"},
            "retention_seconds must be 1 to 31536000 (one year), got " + std::to_string(p.retention_seconds()));
    }
    c.retention_seconds = p.retention_seconds();
    auto tmpl = topic_template::parse(p.topic_template().empty() ? topic_template::kDefault : p.topic_template());
    if (!tmpl) {
      error(f, w + step{"topic_template"}, tmpl.error_message());
    } else {
      c.topic = std::move(*tmpl);
    }
    c.suspended = p.suspended();
    c.epsilon_per_day = p.epsilon_per_day();
    if (c.epsilon_per_day != 0 && !(c.epsilon_per_day >= 0.01 && c.epsilon_per_day <= 10)) {
      error(f, w + step{"epsilon_per_day"},
            "epsilon_per_day must be 0.01 to 10, got " + number_text(c.epsilon_per_day));
    }
    c.granted_by_default = c.basis != legal_basis::consent && c.category == special_category::none;
    if (errors_.size() != before) return;
    purpose_sites_[c.id] = location_text(f, w);
    purpose_files_.push_back({f, i});
    out_->purposes_.push_back(std::move(c));
  }

  // ---- device classes ---------------------------------------------------------------------
  void device_class(std::size_t f, int i) {
    const pb::DeviceClass& d = sources_[f].policy.device_class(i);
    const where w{{"device_class", i}};
    const std::size_t before = errors_.size();
    auto c = std::make_unique<compiled_class>();
    c->id = d.id();
    c->title = d.title().empty() ? d.id() : d.title();
    c->ecosystem = d.ecosystem();
    if (d.ecosystem().size() > 64) error(f, w + step{"ecosystem"}, "longer than 64 characters");
    if (!valid_id(d.id(), 48)) {
      error(f, w + step{"id"},
            "device class id " + quoted(d.id()) +
                " must be 1 to 48 lower-case letters, digits or '-', starting with a letter");
    } else if (auto it = class_sites_.find(d.id()); it != class_sites_.end()) {
      error(f, w + step{"id"}, "duplicate device class id " + quoted(d.id()) + ", first defined at " + it->second);
    }
    if (d.topic_size() == 0) error(f, w, "a device class needs at least one topic filter");
    topic_filters(f, w, d.topic(), c->topics);
    // device_id: a template over captures.
    const std::string id_text = d.device_id().empty() ? "{device}" : d.device_id();
    if (auto id_tmpl = capture_template(f, w, w + step{"device_id"}, "device_id", id_text, *c)) {
      c->device_id = std::move(*id_tmpl);
    }
    c->format = d.format() == pb::DeviceClass::RAW ? compiled_class::payload_format::raw
                                                   : compiled_class::payload_format::json;
    if (d.has_when() && d.when().has_announced()) {
      announced_predicate(f, w + step{"when"}, d.when(), *c);
    } else if (d.has_when()) {
      if (c->format == compiled_class::payload_format::raw) {
        error(f, w + step{"when"}, "a RAW class has no fields to test: use a JSON class or drop `when`");
      }
      auto steps = parse_field_path(d.when().path());
      if (!steps) {
        error(f, w + step{"when"} + step{"path"}, "bad path " + quoted(d.when().path()) + ": " + steps.error_message());
      } else if (steps->empty() ||
                 std::any_of(steps->begin(), steps->end(), [](const path_step& s) { return s.each; })) {
        error(f, w + step{"when"} + step{"path"}, "a predicate path names one member, like \"_type\" or \"a.b\"");
      } else {
        c->when = compiled_predicate{std::move(*steps), d.when().equals(), false, {}, {}};
      }
      if (d.when().equals().empty()) error(f, w + step{"when"} + step{"equals"}, "`equals` is empty");
    }
    if (d.has_announces()) announces(f, w, d.announces(), *c);
    if (d.field_size() == 0) error(f, w, "a device class needs at least one field");
    if (d.field_size() > static_cast<int>(kMaxFieldsPerClass)) error(f, w, "more than 256 fields");
    for (int k = 0; k < d.field_size() && k < static_cast<int>(kMaxFieldsPerClass); ++k) field(f, w, d, k, *c);
    locations(f, *c);
    watch_predicate(*c);
    templates(f, w, *c);
    windows(f, w, *c);
    if (errors_.size() != before) return;
    class_sites_[c->id] = location_text(f, w);
    class_files_.push_back({f, i});
    if (c->announces) out_->announces_ = true;
    out_->classes_.push_back(std::move(c));
  }

  // A template over the captures of every filter of `c` (device_id, announces.about_topic):
  // literal text, {device} and captures only. Null (errors reported) when it is not one.
  // `cw` is the class, `tw` the template's field, `name` what the messages call it.
  std::optional<topic_template> capture_template(std::size_t f, const where& cw, const where& tw,
                                                 const std::string& name, const std::string& text,
                                                 const compiled_class& c) {
    auto tmpl = topic_template::parse(text);
    if (!tmpl) {
      error(f, tw, tmpl.error_message());
      return std::nullopt;
    }
    const std::size_t before = errors_.size();
    for (const auto& part : tmpl->parts()) {
      if (part.kind == topic_template::part_kind::literal) continue;
      if (part.kind != topic_template::part_kind::device &&
          part.kind != topic_template::part_kind::capture) {
        error(f, tw, name + " may use only captures of the topic filters, not {" + part.text + "}");
        continue;
      }
      for (std::size_t t = 0; t < c.topics.size(); ++t) {
        if (c.topics[t].capture_index(part.text) < 0) {
          error(f, cw + step{"topic", static_cast<int>(t)},
                "topic filter " + quoted(c.topics[t].text()) + " has no capture {" + part.text +
                    "}, which " + name + " " + quoted(text) + " needs");
        }
      }
    }
    if (errors_.size() != before) return std::nullopt;
    return std::move(*tmpl);
  }

  // when { announced { device_class: [...] unit: [...] } }
  void announced_predicate(std::size_t f, const where& w, const pb::Predicate& p,
                           compiled_class& c) {
    if (!p.path().empty() || !p.equals().empty()) {
      error(f, w,
            "a predicate tests either a payload member (path, equals) or the announcement "
            "(announced), not both");
    }
    compiled_predicate cp;
    cp.announced = true;
    const where aw = w + step{"announced"};
    announced_values(f, aw, "device_class", p.announced().device_class(), kMaxAnnouncedDeviceClass,
                     cp.device_classes);
    announced_values(f, aw, "unit", p.announced().unit(), kMaxAnnouncedUnit, cp.units);
    c.when = std::move(cp);
  }

  void announced_values(std::size_t f, const where& w, const char* name,
                        const google::protobuf::RepeatedPtrField<std::string>& values,
                        std::size_t max_bytes, std::vector<std::string>& out) {
    for (int i = 0; i < values.size(); ++i) {
      const std::string& v = values.Get(i);
      if (v.size() > max_bytes || !valid_utf8(v)) {
        error(f, w + step{name, i},
              "must be UTF-8 text of at most " + std::to_string(max_bytes) + " bytes");
      } else if (std::find(out.begin(), out.end(), v) != out.end()) {
        error(f, w + step{name, i}, quoted(v) + " is listed twice");
      } else {
        out.push_back(v);
      }
    }
  }

  // announces { state_topic: [...] | about_topic: "..."  base device_class unit template }
  void announces(std::size_t f, const where& cw, const pb::Announce& a, compiled_class& c) {
    const where w = cw + step{"announces"};
    const std::size_t before = errors_.size();
    if (c.format == compiled_class::payload_format::raw) {
      error(f, w, "announces reads JSON members: a RAW class cannot announce");
    }
    compiled_announce ca;
    announce_paths(f, w, "state_topic", a.state_topic(), ca.state_topic);
    announce_paths(f, w, "base", a.base(), ca.base);
    announce_paths(f, w, "device_class", a.device_class(), ca.device_class);
    announce_paths(f, w, "unit", a.unit(), ca.unit);
    announce_paths(f, w, "template", a.template_(), ca.value_template);
    if ((a.state_topic_size() == 0) == a.about_topic().empty()) {
      error(f, w,
            "announces needs exactly one of state_topic (the members holding it) and about_topic "
            "(a template)");
    } else if (!a.about_topic().empty()) {
      ca.about_topic =
          capture_template(f, cw, w + step{"about_topic"}, "about_topic", a.about_topic(), c);
    }
    if (a.base_size() > 0 && a.state_topic_size() == 0) {
      error(f, w + step{"base", 0},
            "base expands a \"~\" in the state_topic members; about_topic has none");
    }
    if (a.device_class_size() == 0 && a.unit_size() == 0) {
      error(f, w,
            "announces needs device_class or unit members (or both): it would announce nothing");
    }
    if (errors_.size() == before) c.announces = std::move(ca);
  }

  void announce_paths(std::size_t f, const where& w, const char* name,
                      const google::protobuf::RepeatedPtrField<std::string>& paths,
                      compiled_announce::alternatives& out) {
    for (int i = 0; i < paths.size(); ++i) {
      auto steps = parse_field_path(paths.Get(i));
      if (!steps) {
        error(f, w + step{name, i},
              "bad path " + quoted(paths.Get(i)) + ": " + steps.error_message());
      } else if (std::any_of(steps->begin(), steps->end(),
                             [](const path_step& s) { return s.each; })) {
        error(f, w + step{name, i},
              "an announced member is one member, like \"stat_t\" or \"dev.ids\", not " +
                  quoted(paths.Get(i)));
      } else if (std::find(out.begin(), out.end(), *steps) != out.end()) {
        error(f, w + step{name, i}, quoted(paths.Get(i)) + " is listed twice");
      } else {
        out.push_back(std::move(*steps));
      }
    }
  }

  void field(std::size_t f, const where& cw, const pb::DeviceClass& d, int k, compiled_class& c) {
    const pb::Field& pf = d.field(k);
    const where w = cw + step{"field", k};
    compiled_field cf;
    auto steps = parse_field_path(pf.path());
    if (!steps) {
      error(f, w + step{"path"}, "bad path " + quoted(pf.path()) + ": " + steps.error_message());
      return;
    }
    cf.steps = std::move(*steps);
    cf.path = field_path_text(cf.steps);
    if (c.format == compiled_class::payload_format::raw && !cf.steps.empty()) {
      error(f, w + step{"path"}, "a RAW class has only the field \"$\", not " + quoted(pf.path()));
      return;
    }
    cf.title = pf.title().empty() ? cf.path : pf.title();
    cf.unit = pf.unit();
    cf.why = pf.why();
    if (pf.why().size() > 512) error(f, w + step{"why"}, "longer than 512 characters");
    cf.actions.resize(out_->purposes_.size());
    std::vector<bool> seen(out_->purposes_.size());
    for (int r = 0; r < pf.rule_size(); ++r) {
      const pb::Rule& rule = pf.rule(r);
      const where rw = w + step{"rule", r};
      if (rule.purpose_size() == 0) error(f, rw, "a rule names at least one purpose");
      auto action = compile_action(f, rw, rule);
      for (int p = 0; p < rule.purpose_size(); ++p) {
        const int idx = out_->purpose_index(rule.purpose(p));
        if (idx < 0) {
          error(f, rw + step{"purpose", p}, "unknown purpose " + quoted(rule.purpose(p)));
          continue;
        }
        if (seen[idx]) {
          error(f, rw + step{"purpose", p},
                "purpose " + quoted(rule.purpose(p)) + " already has a rule for field " + quoted(cf.path));
          continue;
        }
        seen[idx] = true;
        if (action) cf.actions[idx] = *action;
      }
    }
    const int index = static_cast<int>(c.fields.size());
    // Place the field in the tree.
    field_node* node = &c.root;
    for (std::size_t s = 0; s < cf.steps.size(); ++s) {
      if (node->is_leaf()) break;
      if (cf.steps[s].each) {
        if (!node->each) node->each = std::make_unique<field_node>();
        node = node->each.get();
      } else {
        field_node* next = const_cast<field_node*>(node->member(cf.steps[s].key));
        if (next == nullptr) {
          auto m = std::make_unique<field_node>();
          m->key = cf.steps[s].key;
          m->member_index = static_cast<std::uint16_t>(node->members.size());
          next = m.get();
          node->members.push_back(std::move(m));
        }
        node = next;
      }
    }
    if (node->is_leaf()) {
      error(f, w + step{"path"},
            "field " + quoted(cf.path) + " overlaps field " + quoted(c.fields[node->field].path) +
                ": list either a value or the members inside it");
      return;
    }
    if (!node->members.empty() || node->each) {
      error(f, w + step{"path"}, "field " + quoted(cf.path) + " is a container of other listed fields; list its members");
      return;
    }
    node->field = index;
    field_sites_.push_back(w);
    c.fields.push_back(std::move(cf));
  }

  std::optional<field_action> compile_action(std::size_t f, const where& rw, const pb::Rule& rule) {
    field_action a;
    switch (rule.action_case()) {
      case pb::Rule::kKeep: {
        a.kind = action_kind::keep;
        a.length = rule.keep().max_length();
        if (a.length > kMaxKeepLength) {
          error(f, rw + step{"keep"} + step{"max_length"},
                "keep max_length must be 1 to " + std::to_string(kMaxKeepLength) +
                    " characters, got " + std::to_string(a.length));
          return std::nullopt;
        }
        switch (rule.keep().type()) {
          case pb::Keep::STRING:
            a.type = value_type::string;
            break;
          case pb::Keep::NUMBER:
            a.type = value_type::number;
            break;
          case pb::Keep::BOOL:
            a.type = value_type::boolean;
            break;
          default:
            break;  // ANY
        }
        break;
      }
      case pb::Rule::kDrop: a.kind = action_kind::drop; break;
      case pb::Rule::kPseudonymise: {
        a.kind = action_kind::pseudonymise;
        a.length = rule.pseudonymise().length() == 0 ? 16 : rule.pseudonymise().length();
        if (a.length < 8 || a.length > 51) {
          error(f, rw + step{"pseudonymise"} + step{"length"},
                "pseudonym length must be 8 to 51 characters, got " + std::to_string(a.length));
          return std::nullopt;
        }
        break;
      }
      case pb::Rule::kRound: {
        a.kind = action_kind::round;
        a.step = rule.round().step();
        if (!(a.step > 0)) {
          error(f, rw + step{"round"} + step{"step"}, "round step must be greater than 0, got " + number_text(a.step));
          return std::nullopt;
        }
        if (!(a.step <= 1e12)) {
          error(f, rw + step{"round"} + step{"step"},
                "round step must be at most 1e+12, got " + number_text(a.step));
          return std::nullopt;
        }
        if (a.step < kMinRoundStep) {  // a finer step would round nothing that is printed
          error(f, rw + step{"round"} + step{"step"},
                "round step must be at least 1e-09 (a release prints at most 9 decimals), got " +
                    number_text(a.step));
          return std::nullopt;
        }
        a.decimals = decimals_for_step(a.step);
        break;
      }
      case pb::Rule::kBucket: {
        a.kind = action_kind::bucket;
        const auto& b = rule.bucket();
        a.bounds.assign(b.bound().begin(), b.bound().end());
        a.labels.assign(b.label().begin(), b.label().end());
        if (a.bounds.empty() || a.bounds.size() > 64) {
          error(f, rw + step{"bucket"}, "a bucket needs 1 to 64 bounds");
          return std::nullopt;
        }
        for (std::size_t i = 0; i < a.bounds.size(); ++i) {
          if (!std::isfinite(a.bounds[i]) || (i > 0 && !(a.bounds[i] > a.bounds[i - 1]))) {
            error(f, rw + step{"bucket"} + step{"bound", static_cast<int>(i)},
                  "bounds must be finite and strictly ascending");
            return std::nullopt;
          }
        }
        if (a.labels.size() != a.bounds.size() + 1) {
          error(f, rw + step{"bucket"},
                "a bucket with " + std::to_string(a.bounds.size()) + " bounds needs " +
                    std::to_string(a.bounds.size() + 1) + " labels, got " + std::to_string(a.labels.size()));
          return std::nullopt;
        }
        for (std::size_t i = 0; i < a.labels.size(); ++i) {
          if (a.labels[i].empty() || a.labels[i].size() > 64) {
            error(f, rw + step{"bucket"} + step{"label", static_cast<int>(i)}, "labels must be 1 to 64 characters");
            return std::nullopt;
          }
          // A label is written into release payloads, which must be UTF-8 JSON (found by fuzzing).
          if (!valid_utf8(a.labels[i])) {
            error(f, rw + step{"bucket"} + step{"label", static_cast<int>(i)}, "labels must be UTF-8 text");
            return std::nullopt;
          }
        }
        break;
      }
      case pb::Rule::kCoarsenTime: {
        a.kind = action_kind::coarsen_time;
        switch (rule.coarsen_time().to()) {
          case pb::CoarsenTime::MINUTE: a.unit = time_unit::minute; break;
          case pb::CoarsenTime::HOUR: a.unit = time_unit::hour; break;
          case pb::CoarsenTime::DAY: a.unit = time_unit::day; break;
          default:
            error(f, rw + step{"coarsen_time"} + step{"to"}, "coarsen_time needs `to: MINUTE`, `HOUR` or `DAY`");
            return std::nullopt;
        }
        switch (rule.coarsen_time().input()) {
          case pb::CoarsenTime::EPOCH_SECONDS: a.input = time_input::epoch_seconds; break;
          case pb::CoarsenTime::EPOCH_MILLIS: a.input = time_input::epoch_millis; break;
          case pb::CoarsenTime::EPOCH_MICROS:
            a.input = time_input::epoch_micros;
            break;
          case pb::CoarsenTime::EPOCH_NANOS:
            a.input = time_input::epoch_nanos;
            break;
          case pb::CoarsenTime::ISO8601: a.input = time_input::iso8601; break;
          default: a.input = time_input::automatic; break;
        }
        break;
      }
      case pb::Rule::kTruncate: {
        a.kind = action_kind::truncate;
        a.length = rule.truncate().length();
        if (a.length < 1 || a.length > 1024) {
          error(f, rw + step{"truncate"} + step{"length"},
                "truncate length must be 1 to 1024 characters, got " + std::to_string(a.length));
          return std::nullopt;
        }
        break;
      }
      case pb::Rule::kGeneraliseLocation: {
        a.kind = action_kind::generalise_location;
        a.cell_km = rule.generalise_location().cell_km();
        a.longitude = rule.generalise_location().longitude();
        if (!(a.cell_km >= 0.1 && a.cell_km <= 1000)) {
          error(f, rw + step{"generalise_location"} + step{"cell_km"},
                "cell_km must be 0.1 to 1000, got " + number_text(a.cell_km));
          return std::nullopt;
        }
        break;
      }
      case pb::Rule::kAggregate:
        if (!compile_aggregate(f, rw + step{"aggregate"}, rule.aggregate(), a)) return std::nullopt;
        break;
      default:
        error(f, rw, "the rule has no action (keep, drop, pseudonymise, round, bucket, coarsen_time, truncate, generalise_location, aggregate)");
        return std::nullopt;
    }
    return a;
  }

  bool compile_aggregate(std::size_t f, const where& w, const pb::Aggregate& g, field_action& a) {
    a.kind = action_kind::aggregate;
    aggregate_spec& s = a.window;
    switch (g.function()) {
      case pb::Aggregate::MEAN: s.fn = aggregate_fn::mean; break;
      case pb::Aggregate::MIN: s.fn = aggregate_fn::min; break;
      case pb::Aggregate::MAX: s.fn = aggregate_fn::max; break;
      case pb::Aggregate::SUM: s.fn = aggregate_fn::sum; break;
      case pb::Aggregate::COUNT: s.fn = aggregate_fn::count; break;
      case pb::Aggregate::LAST: s.fn = aggregate_fn::last; break;
      case pb::Aggregate::DELTA: s.fn = aggregate_fn::delta; break;
      default:
        error(f, w + step{"function"}, "aggregate needs a function: MEAN, MIN, MAX, SUM, COUNT, LAST or DELTA");
        return false;
    }
    s.window_seconds = g.window_seconds();
    if (s.window_seconds < 60 || s.window_seconds > 86400 || 86400 % s.window_seconds != 0) {
      error(f, w + step{"window_seconds"},
            "window_seconds must be 60 to 86400 and divide a day (60, 300, 900, 3600, 86400, ...) so that windows "
            "align to midnight UTC, got " +
                std::to_string(s.window_seconds));
      return false;
    }
    s.min_samples = g.min_samples() == 0 ? 1 : g.min_samples();
    if (s.min_samples > 1'000'000) {
      error(f, w + step{"min_samples"}, "min_samples must be at most 1000000, got " + std::to_string(s.min_samples));
      return false;
    }
    s.step = g.step() == 0 ? 0.001 : g.step();
    if (s.fn == aggregate_fn::count) s.step = 1;
    if (!(s.step >= 1e-6 && s.step <= 1e9)) {
      error(f, w + step{"step"}, "step must be 1e-06 to 1e+09, got " + number_text(g.step()));
      return false;
    }
    s.decimals = decimals_for_step(s.step);
    s.spread_seconds = g.has_spread_seconds() ? g.spread_seconds() : std::min<std::uint32_t>(s.window_seconds / 10, 300);
    if (s.spread_seconds > s.window_seconds) {
      error(f, w + step{"spread_seconds"},
            "spread_seconds must be at most window_seconds (" + std::to_string(s.window_seconds) + "), got " +
                std::to_string(s.spread_seconds));
      return false;
    }
    s.wrap_at = g.wrap_at();
    if (s.wrap_at != 0 && (s.fn != aggregate_fn::delta || !(s.wrap_at > 0 && s.wrap_at <= 1e18))) {
      error(f, w + step{"wrap_at"}, "wrap_at is for DELTA only, and must be greater than 0 (at most 1e18)");
      return false;
    }
    if (!g.has_noise()) return true;
    const pb::Noise& n = g.noise();
    s.noisy = true;
    s.epsilon = n.epsilon();
    s.lower = n.lower();
    s.upper = n.upper();
    if (s.fn == aggregate_fn::count) {
      error(f, w + step{"noise"},
            "COUNT takes no noise: the number of samples in a window is not what the noise protects (one sample's "
            "value is); use SUM of a 0/1 field to count events privately");
      return false;
    }
    if (!(s.epsilon >= 0.01 && s.epsilon <= 10)) {
      error(f, w + step{"noise"} + step{"epsilon"}, "epsilon must be 0.01 to 10, got " + number_text(s.epsilon));
      return false;
    }
    if (!std::isfinite(s.lower) || !std::isfinite(s.upper) || !(s.lower < s.upper)) {
      error(f, w + step{"noise"}, "noise needs finite bounds with lower < upper");
      return false;
    }
    if (s.fn == aggregate_fn::delta && s.lower < 0) {
      error(f, w + step{"noise"} + step{"lower"}, "DELTA clamps each increase: lower must be 0 or more");
      return false;
    }
    if (s.upper - s.lower < s.step) {
      error(f, w + step{"noise"}, "upper - lower must be at least one step (" + number_text(s.step) + ")");
      return false;
    }
    if ((s.upper - s.lower) / s.step > 1e12) {
      error(f, w + step{"noise"}, "upper - lower must be at most 1e12 steps (" + number_text(s.step) + ")");
      return false;
    }
    return true;
  }

  // A purpose receives a class either per message or per window; the fields that share a window
  // share its spread, and one window's noise must fit in a day's budget.
  void windows(std::size_t f, const where& w, compiled_class& c) {
    c.windowed.assign(out_->purposes_.size(), 0);
    for (std::size_t p = 0; p < out_->purposes_.size(); ++p) {
      const compiled_field* per_window = nullptr;
      const compiled_field* per_message = nullptr;
      for (const auto& field : c.fields) {
        const action_kind k = field.actions[p].kind;
        if (k == action_kind::aggregate) {
          if (per_window == nullptr) per_window = &field;
        } else if (k != action_kind::none && k != action_kind::drop && per_message == nullptr) {
          per_message = &field;
        }
      }
      if (per_window == nullptr) continue;
      const std::string& purpose = out_->purposes_[p].id;
      if (per_message != nullptr) {
        error(f, w,
              "purpose " + quoted(purpose) + " receives " + quoted(per_window->path) + " per window and " +
                  quoted(per_message->path) +
                  " per message: a purpose receives a class one way or the other (a release per message would "
                  "tell when the window's samples arrived)");
        continue;
      }
      c.windowed[p] = 1;
      std::map<std::uint32_t, std::pair<std::uint32_t, double>> groups;  // window -> spread, ε
      for (const auto& field : c.fields) {
        const field_action& a = field.actions[p];
        if (a.kind != action_kind::aggregate) continue;
        for (const auto& s : field.steps) {
          if (s.each) {
            error(f, w, "field " + quoted(field.path) + " is aggregated for " + quoted(purpose) +
                            ": an aggregated field must name one value, not every element of an array");
          }
        }
        auto [it, fresh] = groups.try_emplace(a.window.window_seconds, a.window.spread_seconds, 0.0);
        if (!fresh && it->second.first != a.window.spread_seconds) {
          error(f, w, "fields of purpose " + quoted(purpose) + " with a window of " +
                          std::to_string(a.window.window_seconds) +
                          " s leave together and need one spread_seconds; " + quoted(field.path) + " differs");
        }
        if (a.window.noisy) it->second.second += a.window.epsilon;
      }
      for (const auto& [window, g] : groups) {
        if (g.second == 0) continue;
        const double cap = out_->purposes_[p].epsilon_per_day;
        if (cap == 0) {
          error(f, w, "purpose " + quoted(purpose) + " gets noisy windows of this class and needs epsilon_per_day");
        } else if (g.second > cap + 1e-9) {
          error(f, w, "one " + std::to_string(window) + " s window of this class spends ε " + number_text(g.second) +
                          " for purpose " + quoted(purpose) + ", more than its epsilon_per_day " + number_text(cap) +
                          ": it could never be released");
        }
      }
    }
  }

  // The class's predicate member joins the field tree as a watched node when the class does not
  // list it and its parent is already followed (the root, for "_type" or "method"): the rewrite
  // then reports a second copy itself (see evaluator::predicate_path_twice). Otherwise the
  // evaluator reads the payload once more for it.
  static void watch_predicate(compiled_class& c) {
    if (!c.when || c.format != compiled_class::payload_format::json) return;
    const std::vector<path_step>& steps = c.when->steps;
    if (steps.empty()) return;  // a predicate on "$" (found by fuzz_policy_compiler)
    field_node* parent = &c.root;
    for (std::size_t s = 0; s + 1 < steps.size(); ++s) {
      if (parent->is_leaf() || parent->watched) return;
      parent = const_cast<field_node*>(parent->member(steps[s].key));
      if (parent == nullptr) return;
    }
    if (parent->is_leaf() || parent->watched || parent->member(steps.back().key) != nullptr) return;
    if (parent->members.empty()) return;  // an array's elements: no member to add beside them
    if (parent->members.size() >= 2 * kMaxFieldsPerClass) return;
    auto node = std::make_unique<field_node>();
    node->key = steps.back().key;
    node->member_index = static_cast<std::uint16_t>(parent->members.size());
    node->watched = true;
    parent->members.push_back(std::move(node));
  }

  // Links each latitude to its longitude sibling, adding the longitude field if not listed.
  void locations(std::size_t f, compiled_class& c) {
    const std::size_t listed = c.fields.size();
    for (std::size_t k = 0; k < listed; ++k) {
      for (std::size_t p = 0; p < c.fields[k].actions.size(); ++p) {
        if (c.fields[k].actions[p].kind != action_kind::generalise_location) continue;
        const where w = field_sites_[field_sites_.size() - listed + k];
        const auto& lat_steps = c.fields[k].steps;
        if (lat_steps.empty() || lat_steps.back().each) {
          error(f, w + step{"path"}, "generalise_location goes on a latitude member such as \"lat\"");
          continue;
        }
        const std::string& lon_name = c.fields[k].actions[p].longitude;
        if (lon_name.empty() || lon_name.find_first_of(".[]\"") != std::string::npos) {
          error(f, w, "generalise_location.longitude must name a sibling member, such as \"lon\"");
          continue;
        }
        std::vector<path_step> lon_steps(lat_steps.begin(), lat_steps.end() - 1);
        lon_steps.push_back({lon_name, false});
        int lon = -1;
        for (std::size_t j = 0; j < c.fields.size(); ++j) {
          if (c.fields[j].steps == lon_steps) lon = static_cast<int>(j);
        }
        if (lon < 0) {
          compiled_field lf;
          lf.steps = lon_steps;
          lf.path = field_path_text(lon_steps);
          lf.title = "longitude";  // explanations read "position and longitude"
          lf.actions.resize(out_->purposes_.size());
          lf.synthetic = true;
          field_node* parent = &c.root;
          for (std::size_t s = 0; s + 1 < lon_steps.size(); ++s) {
            parent = lon_steps[s].each ? parent->each.get() : const_cast<field_node*>(parent->member(lon_steps[s].key));
          }
          if (parent->member(lon_name) != nullptr) {  // listed as an object or array: never a number
            error(f, w, "longitude " + quoted(field_path_text(lon_steps)) +
                            " is a container of other listed fields; generalise_location needs a number");
            continue;
          }
          auto node = std::make_unique<field_node>();
          node->key = lon_name;
          node->member_index = static_cast<std::uint16_t>(parent->members.size());
          lon = static_cast<int>(c.fields.size());
          node->field = lon;
          parent->members.push_back(std::move(node));
          c.fields.push_back(std::move(lf));
        } else if (c.fields[lon].actions[p].kind != action_kind::none) {
          error(f, w, "longitude field " + quoted(c.fields[lon].path) + " already has a rule for purpose " +
                          quoted(out_->purposes_[p].id) + "; generalise_location on " + quoted(c.fields[k].path) +
                          " decides it");
          continue;
        }
        c.fields[k].actions[p].partner_field = lon;
        c.fields[lon].actions[p].kind = action_kind::location_longitude;
        c.fields[lon].actions[p].partner_field = static_cast<int>(k);
      }
    }
  }

  // Every capture used by a purpose's topic template must exist in every filter of a class that
  // sends to that purpose; records which purposes the class uses.
  void templates(std::size_t f, const where& w, compiled_class& c) {
    for (std::size_t p = 0; p < out_->purposes_.size(); ++p) {
      bool used = false;
      for (const auto& field : c.fields) used = used || (field.actions[p].kind != action_kind::none &&
                                                        field.actions[p].kind != action_kind::drop);
      if (!used) continue;
      c.purposes.push_back(p);
      for (const auto& part : out_->purposes_[p].topic.parts()) {
        if (part.kind != topic_template::part_kind::capture) continue;
        for (std::size_t t = 0; t < c.topics.size(); ++t) {
          if (c.topics[t].capture_index(part.text) < 0) {
            error(f, w + step{"topic", static_cast<int>(t)},
                  "topic filter " + quoted(c.topics[t].text()) + " has no capture {" + part.text +
                      "}, which the topic_template of purpose " + quoted(out_->purposes_[p].id) + " needs");
          }
        }
      }
    }
  }

  void topic_filters(std::size_t f, const where& w, const google::protobuf::RepeatedPtrField<std::string>& texts,
                     std::vector<topic_filter>& out) {
    for (int t = 0; t < texts.size(); ++t) {
      auto filter = topic_filter::parse(texts.Get(t));
      if (!filter) {
        error(f, w + step{"topic", t}, filter.error_message());
      } else {
        out.push_back(std::move(*filter));
      }
    }
  }

  // ---- ignores ---------------------------------------------------------------------------
  void ignore(std::size_t f, int i) {
    const pb::Ignore& g = sources_[f].policy.ignore(i);
    const where w{{"ignore", i}};
    compiled_ignore out;
    if (g.topic_size() == 0) error(f, w, "an ignore needs at least one topic filter");
    topic_filters(f, w, g.topic(), out.topics);
    if (g.why().empty())
      error(f, w + step{"why"}, "say why these topics stay home: households and auditors read it");
    if (g.why().size() > 512) error(f, w + step{"why"}, "longer than 512 characters");
    if (g.ecosystem().size() > 64) error(f, w + step{"ecosystem"}, "longer than 64 characters");
    out.why = g.why();
    out.ecosystem = g.ecosystem();
    out_->ignores_.push_back(std::move(out));
    ignore_files_.emplace_back(f, i);
  }

  // ---- routes -----------------------------------------------------------------------------
  // Classes with a predicate, then classes without, then ignores: topic_router offers routes of
  // one filter shape in the order they were added.
  void routes() {
    std::vector<topic_route> all;
    for (int with_predicate = 1; with_predicate >= 0; --with_predicate) {
      for (const auto& c : out_->classes_) {
        if (c->when.has_value() != (with_predicate == 1)) continue;
        for (const auto& t : c->topics) all.push_back({&t, c.get(), nullptr});
      }
    }
    for (const auto& g : out_->ignores_) {
      for (const auto& t : g.topics) all.push_back({&t, nullptr, &g});
    }
    std::vector<std::string> shapes;
    shapes.reserve(all.size());
    for (const auto& r : all) shapes.push_back(r.filter->normalised());
    for (std::size_t j = 1; j < all.size(); ++j) {
      for (std::size_t i = 0; i < j; ++i) {
        if (shapes[i] != shapes[j]) continue;
        const auto& a = all[i];
        const auto& b = all[j];
        const auto* pa = a.device_class && a.device_class->when ? &*a.device_class->when : nullptr;
        const auto* pb_ = b.device_class && b.device_class->when ? &*b.device_class->when : nullptr;
        if (!could_both_hold(pa, pb_)) continue;
        route_error(b, a);
        break;
      }
    }
    for (const auto& r : all) out_->router_.add(r);
  }

  // Whether one message could satisfy both predicates (null: none, always holds). Payload
  // predicates are compared as they are written (the same member and value); announced ones
  // overlap when their device class lists and their unit lists each share a value (or accept
  // any).
  static bool could_both_hold(const compiled_predicate* a, const compiled_predicate* b) {
    if ((a == nullptr) != (b == nullptr)) return false;
    if (a == nullptr) return true;
    if (a->announced != b->announced) return false;
    if (!a->announced) return a->steps == b->steps && a->equals == b->equals;
    auto meet = [](const std::vector<std::string>& x, const std::vector<std::string>& y) {
      if (x.empty() || y.empty()) return true;
      return std::any_of(x.begin(), x.end(), [&](const std::string& v) {
        return std::find(y.begin(), y.end(), v) != y.end();
      });
    };
    return meet(a->device_classes, b->device_classes) && meet(a->units, b->units);
  }

  // `b` has the same filter shape and predicate as `a`, added before it.
  void route_error(const topic_route& b, const topic_route& a) {
    const std::string what = "topic filter " + quoted(b.filter->text());
    std::string other;
    if (a.device_class == b.device_class && a.ignore == b.ignore) {
      other = "is listed twice";
    } else if (a.device_class != nullptr) {
      other = "is the same as " + quoted(a.filter->text()) + " of device class " +
              quoted(a.device_class->id) +
              (b.device_class
                   ? (b.device_class->when && b.device_class->when->announced
                          ? " with an overlapping announced predicate: which class applies to a "
                            "topic announced with both would be ambiguous"
                          : " with the same predicate: which class applies would be ambiguous")
                   : ": whether it is ignored would be ambiguous (give the class a "
                     "`when` predicate, or "
                     "drop one of the two)");
    } else {
      other = "is the same as " + quoted(a.filter->text()) + " of another ignore";
    }
    if (b.device_class != nullptr) {
      class_error(b.device_class, what + " " + other);
      return;
    }
    for (std::size_t i = 0; i < out_->ignores_.size(); ++i) {
      if (&out_->ignores_[i] == b.ignore) {
        error(ignore_files_[i].first, {{"ignore", ignore_files_[i].second}}, what + " " + other);
        return;
      }
    }
  }

  void class_error(const compiled_class* c, const std::string& message) {
    for (std::size_t i = 0; i < out_->classes_.size(); ++i) {
      if (out_->classes_[i].get() == c) {
        error(class_files_[i].first, {{"device_class", class_files_[i].second}}, message);
        return;
      }
    }
  }

  std::span<const policy_source> sources_;
  std::shared_ptr<compiled_policy> out_;
  std::vector<std::string> errors_;
  std::map<std::string, std::string> purpose_sites_;
  std::map<std::string, std::string> class_sites_;
  std::vector<std::pair<std::size_t, int>> purpose_files_;
  std::vector<std::pair<std::size_t, int>> class_files_;
  std::vector<std::pair<std::size_t, int>> ignore_files_;
  std::vector<where> field_sites_;
};

compile_result compile_policy(std::span<const policy_source> sources) {
  return policy_compiler(sources).run();
}

}  // namespace portier::policies
