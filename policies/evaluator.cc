#include "policies/evaluator.h"

#include <stdexcept>

#include "policies/json_text.h"

namespace portier::policies {

namespace {

constexpr std::size_t kDevicePseudonymLength = 16;

std::vector<std::string> purpose_ids(const compiled_policy& p) {
  std::vector<std::string> ids;
  for (const auto& purpose : p.purposes()) ids.push_back(purpose.id);
  return ids;
}

// Whether the rewrite of a class follows every member of `steps` (and so reports a second copy
// of any of them as duplicate_key): each is a listed member, and all but the last have members.
bool follows(const field_node& root, const std::vector<path_step>& steps) {
  const field_node* n = &root;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (n->is_leaf()) return false;
    n = n->member(steps[i].key);
    if (n == nullptr) return false;
  }
  return true;
}

bool safe_topic_level(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

evaluator::evaluator(std::shared_ptr<const compiled_policy> policy, engine_identity identity, engine_limits limits)
    : policy_(std::move(policy)),
      identity_(std::move(identity)),
      limits_(limits),
      names_(identity_.secret, purpose_ids(*policy_)) {
  // Start-up errors, not data-path errors: a misconfigured gateway must not start.
  if (identity_.secret.size() < 16) throw std::invalid_argument("gateway secret shorter than 16 bytes");
  if (!safe_topic_level(identity_.gateway_id)) {
    throw std::invalid_argument("gateway id must be 1 to 64 letters, digits, '-' or '_'");
  }
  limits_.max_depth = std::min(limits_.max_depth, kMaxJsonDepth);
  decision_.releases_.resize(policy_->purposes().size());
  outputs_.reserve(policy_->purposes().size());
  tested_.reserve(policy_->router().size());
}

bool evaluator::granted(const consent_snapshot& consent, std::size_t purpose, std::string_view device,
                        std::string_view device_class) const {
  const compiled_purpose& p = policy_->purposes()[purpose];
  if (p.suspended || consent.paused()) return false;
  switch (consent.lookup(device, device_class, p.id)) {
    case consent_decision::granted: return true;
    case consent_decision::refused: return false;
    case consent_decision::unset: return p.granted_by_default;
  }
  return false;
}

std::string evaluator::device_pseudonym(std::size_t purpose, std::string_view device_id) {
  return std::string(names_.pseudonym(purpose, device_id, kDevicePseudonymLength));
}

const compiled_class* evaluator::match(std::string_view topic, std::string_view payload,
                                       std::optional<drop_reason>& failure) {
  tested_.clear();
  const compiled_class* found = nullptr;
  policy_->router().route(topic, captures_, [&](const topic_route& route) {
    if (route.ignore != nullptr) {
      failure = drop_reason::ignored_topic;
      return true;
    }
    const compiled_class& c = *route.device_class;
    if (c.when && c.when->announced) {
      if (!announced_fits(*c.when, topic)) return false;
    } else if (c.when) {
      tested_.push_back(&*c.when);
      bool matches = false;
      failure = rewriter_.test_predicate(*c.when, payload, limits_.max_depth, matches);
      if (failure) return true;
      if (!matches) return false;
    }
    matched_filter_ = route.filter;
    found = &c;
    return true;
  });
  return found;
}

bool evaluator::announced_fits(const compiled_predicate& p, std::string_view topic) {
  if (!looked_up_) {
    looked_up_ = true;
    have_meaning_ = announcements_ != nullptr && announcements_->find(topic, now_ms_, meaning_);
  }
  return have_meaning_ && announcement_fits(meaning_, p.device_classes, p.units);
}

void evaluator::read_announced(const compiled_class& c, std::string_view payload) {
  if (!c.announces) return;
  const compiled_announce& spec = *c.announces;
  about_topic_.clear();
  if (spec.about_topic) {
    for (const auto& part : spec.about_topic->parts()) {
      if (part.kind == topic_template::part_kind::literal) {
        about_topic_ += part.text;
      } else {
        about_topic_ +=
            captures_[static_cast<std::size_t>(matched_filter_->capture_index(part.text))];
      }
    }
  }
  decision_.has_announcement_ = read_announcement(spec, payload, about_topic_, limits_.max_depth,
                                                  limits_.max_topic_bytes, decision_.announcement_);
}

bool evaluator::render_device_id(const compiled_class& c) {
  std::string& id = decision_.device_id_;
  id.clear();
  for (const auto& part : c.device_id.parts()) {
    if (part.kind == topic_template::part_kind::literal) {
      id += part.text;
    } else {
      id += captures_[static_cast<std::size_t>(matched_filter_->capture_index(part.text))];
    }
  }
  return !id.empty();
}

void evaluator::render_topic(const compiled_class& c, std::size_t purpose, std::string& out) {
  out.clear();
  const compiled_purpose& p = policy_->purposes()[purpose];
  for (const auto& part : p.topic.parts()) {
    switch (part.kind) {
      case topic_template::part_kind::literal: out += part.text; break;
      case topic_template::part_kind::gateway: out += identity_.gateway_id; break;
      case topic_template::part_kind::purpose: out += p.id; break;
      case topic_template::part_kind::device_class: out += c.id; break;
      case topic_template::part_kind::device:
        out += names_.pseudonym(purpose, decision_.device_id_, kDevicePseudonymLength);
        break;
      case topic_template::part_kind::capture: {
        const int i = matched_filter_->capture_index(part.text);
        out += names_.pseudonym(purpose, captures_[static_cast<std::size_t>(i)], kDevicePseudonymLength);
        break;
      }
    }
  }
}

// Each predicate tested for the message took the first copy of its member. A second copy (or of a
// member on the way) would make the choice of class ambiguous: duplicate_key. The rewrite reports
// it for paths the class follows; other paths are read for it here, once each.
bool evaluator::predicate_path_twice(const compiled_class* c, std::string_view payload) {
  for (std::size_t i = 0; i < tested_.size(); ++i) {
    const std::vector<path_step>& steps = tested_[i]->steps;
    // The rewriter itself finds a listed member twice.
    if (c != nullptr && c->format == compiled_class::payload_format::json &&
        follows(c->root, steps))
      continue;
    bool read = false;
    for (std::size_t j = 0; j < i && !read; ++j) read = tested_[j]->steps == steps;
    if (!read && rewriter_.predicate_path_twice(*tested_[i], payload, limits_.max_depth))
      return true;
  }
  return false;
}

// A RAW payload is one value: a number if it reads as one, otherwise a string.
void evaluator::raw_rewrite(const compiled_class& c, std::string_view payload, std::span<rewrite_output> outputs) {
  const compiled_field& f = c.fields[static_cast<std::size_t>(c.root.field)];
  double number = 0;
  const bool is_number = parse_number(payload, number);
  for (auto& o : outputs) {
    o.payload->clear();
    o.fields->clear();
    if (o.samples != nullptr) o.samples->clear();
    const field_action& a = f.actions[o.purpose];
    bool ok = true;
    bool out_is_number = false;
    switch (a.kind) {
      case action_kind::none:
      case action_kind::drop:
      case action_kind::generalise_location:
      case action_kind::location_longitude:  // a pair cannot be one bare value
        drop(a.kind == action_kind::none || a.kind == action_kind::drop ? drop_reason::policy_drop
                                                                         : drop_reason::type_mismatch);
        continue;
      case action_kind::keep:
        ok = keep_fits(a, is_number ? value_type::number : value_type::string, payload);
        if (ok) *o.payload = payload;
        break;
      case action_kind::pseudonymise: *o.payload = names_.pseudonym(o.purpose, payload, a.length); break;
      case action_kind::round: ok = is_number && apply_round(a, payload, *o.payload); break;
      case action_kind::bucket: {
        const std::string* label = nullptr;
        ok = is_number && apply_bucket(a, payload, &label);
        if (ok) *o.payload = *label;
        break;
      }
      case action_kind::coarsen_time: {
        const time_result r =
            apply_coarsen_time(a, is_number ? value_type::number : value_type::string, payload,
                               *o.payload, out_is_number);
        if (r == time_result::implausible) {
          o.payload->clear();
          drop(drop_reason::implausible_time);
          continue;
        }
        ok = r == time_result::coarsened;
        break;
      }
      case action_kind::truncate: *o.payload = truncate_utf8(payload, a.length); break;
      case action_kind::aggregate:
        if (o.samples == nullptr) {
          drop(drop_reason::policy_drop);
          continue;
        }
        ok = is_number;
        if (ok) o.samples->push_back({static_cast<std::uint16_t>(c.root.field), number});
        break;
    }
    if (!ok) {
      o.payload->clear();
      drop(drop_reason::type_mismatch);
      continue;
    }
    o.fields->push_back(static_cast<std::uint16_t>(c.root.field));
  }
}

const decision& evaluator::evaluate(std::string_view topic, std::string_view payload,
                                    const consent_snapshot& consent, std::int64_t now_ms,
                                    announcement_table* announcements) {
  decision& d = decision_;
  d.device_class_ = nullptr;
  d.device_id_.clear();
  d.release_count_ = 0;
  d.drops_.fill(0);
  d.has_announcement_ = false;
  announcements_ = announcements;
  now_ms_ = now_ms;
  looked_up_ = false;
  const bool valid_topic = !topic.empty() && topic.size() <= limits_.max_topic_bytes &&
                           valid_utf8(topic) && topic.find('\0') == std::string_view::npos;
  if (consent.paused()) {
    drop(drop_reason::paused);
    // What a device announces is no release: it is read while paused too, or a retained
    // discovery message that arrives during a pause would be missed for good.
    if (policy_->announces() && valid_topic && payload.size() <= limits_.max_payload_bytes) {
      std::optional<drop_reason> failure;
      if (const compiled_class* c = match(topic, payload, failure); c != nullptr && !failure)
        read_announced(*c, payload);
    }
    return d;
  }
  if (!valid_topic) {
    drop(drop_reason::invalid_topic);
    return d;
  }
  if (payload.size() > limits_.max_payload_bytes) {
    drop(drop_reason::too_large);
    return d;
  }
  std::optional<drop_reason> failure;
  const compiled_class* c = match(topic, payload, failure);
  if (failure == drop_reason::ignored_topic && !tested_.empty() &&
      predicate_path_twice(nullptr, payload)) {
    failure = drop_reason::duplicate_key;  // whether a class or the ignore applies is ambiguous
  }
  if (failure) {
    drop(*failure);
    return d;
  }
  if (c == nullptr) {
    // Only classes that select by announcement could have taken it: say which part was missing.
    drop(!looked_up_     ? drop_reason::unmatched_topic
         : have_meaning_ ? drop_reason::unknown_announcement
                         : drop_reason::unannounced_topic);
    return d;
  }
  read_announced(*c, payload);
  d.device_class_ = c;
  if (!render_device_id(*c)) {
    drop(drop_reason::invalid_topic);
    return d;
  }
  outputs_.clear();
  for (std::size_t p : c->purposes) {
    if (policy_->purposes()[p].suspended) {
      drop(drop_reason::purpose_suspended);
    } else if (!granted(consent, p, d.device_id_, c->id)) {
      drop(drop_reason::consent_refused);
    } else {
      release& r = d.releases_[outputs_.size()];
      r.windowed = c->windowed_for(p);
      if (!r.windowed) r.samples.clear();  // the slot may hold an earlier message's samples
      outputs_.push_back({p, &r.payload, &r.fields, r.windowed ? &r.samples : nullptr});
    }
  }
  if (outputs_.empty()) {
    drop(drop_reason::no_purpose_granted);
    return d;
  }
  if (!tested_.empty() && predicate_path_twice(c, payload)) {
    drop(drop_reason::duplicate_key);
    return d;
  }
  if (c->format == compiled_class::payload_format::raw) {
    if (!valid_utf8(payload)) {
      drop(drop_reason::invalid_utf8);
      return d;
    }
    raw_rewrite(*c, payload, outputs_);
  } else if (auto reason = rewriter_.rewrite(*c, payload, outputs_, names_, limits_.max_depth, d.drops_)) {
    drop(*reason);
    return d;
  }
  // Compact: keep the releases that received something, in purpose order.
  std::size_t n = 0;
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    release& src = d.releases_[i];
    if (src.windowed ? src.samples.empty() : src.fields.empty()) {
      drop(drop_reason::nothing_permitted);
      continue;
    }
    if (n != i) {
      std::swap(d.releases_[n].payload, src.payload);
      std::swap(d.releases_[n].fields, src.fields);
      std::swap(d.releases_[n].samples, src.samples);
      d.releases_[n].windowed = src.windowed;
    }
    release& r = d.releases_[n++];
    r.purpose = outputs_[i].purpose;
    r.payload_is_json = c->format == compiled_class::payload_format::json;
    r.expires_at_ms = now_ms + static_cast<std::int64_t>(policy_->purposes()[r.purpose].retention_seconds) * 1000;
    render_topic(*c, r.purpose, r.topic);
  }
  d.release_count_ = n;
  return d;
}

}  // namespace portier::policies
