// The compiled, immutable form of a policy: what the data path reads. Built only by
// compile_policy() (policy_compiler.h), which validates everything once; an object that exists is
// usable. Share it across threads as shared_ptr<const compiled_policy>; a reload builds a new one
// and swaps the pointer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policies/announcement.h"
#include "policies/field_action.h"
#include "policies/field_path.h"
#include "policies/topic_filter.h"
#include "policies/topic_router.h"
#include "policies/topic_template.h"

namespace portier::policies {

enum class legal_basis : std::uint8_t { consent, contract, legitimate_interest, legal_obligation };
enum class special_category : std::uint8_t { none, health, location, biometric };

std::string_view legal_basis_name(legal_basis b);
std::string_view special_category_name(special_category c);

struct compiled_purpose {
  std::string id;
  std::string title;
  std::string description;
  legal_basis basis = legal_basis::consent;
  special_category category = special_category::none;
  std::uint32_t retention_seconds = 0;
  topic_template topic;
  bool suspended = false;
  // Granted when no household decision exists: contract, legitimate interest and legal
  // obligation outside special categories. Consent and special categories start refused.
  bool granted_by_default = false;
  // Differential privacy: the ε one device's noisy releases may spend per UTC day (0: none).
  double epsilon_per_day = 0;
};

// A node of a class's field tree: object members by name, array elements by "[*]".
struct field_node {
  std::string key;                                  // the member name (empty for elements)
  std::vector<std::unique_ptr<field_node>> members; // object members, in table order
  std::unique_ptr<field_node> each;                 // array elements
  int field = -1;                                   // leaf: index into compiled_class::fields
  std::uint16_t member_index = 0;                   // position among the parent's members
  // Not listed, only watched: the class's own predicate member, which the rewrite drops like any
  // unlisted member but whose second copy it reports as duplicate_key, so that the evaluator need
  // not read the payload a second time to find one.
  bool watched = false;

  const field_node* member(std::string_view name) const {
    for (const auto& m : members) {
      // Runs for every key read. Length first, then byte by byte: keys are short, and a libc
      // memcmp call cost more than the comparison itself.
      const std::string& k = m->key;
      if (k.size() != name.size()) continue;
      std::size_t i = 0;
      while (i < k.size() && k[i] == name[i]) ++i;
      if (i == k.size()) return m.get();
    }
    return nullptr;
  }
  bool is_leaf() const { return field >= 0; }
};

struct compiled_field {
  std::string path;   // canonical text
  std::vector<path_step> steps;
  std::string title;  // for explanations; the path when the policy gives none
  std::string unit;
  std::vector<field_action> actions;  // indexed by purpose; kind none where no rule applies
  bool synthetic = false;             // added as a location partner, not listed by the policy
  std::string why;                    // plain-language reason (Field.why), may be empty
};

// A class's `when`: a payload member equals a value, or (announced) the topic was announced with
// one of the device classes and units listed (announcement_fits()).
struct compiled_predicate {
  std::vector<path_step> steps;
  std::string equals;
  bool announced = false;
  std::vector<std::string> device_classes;  // announced: empty accepts any; "" is none
  std::vector<std::string> units;
};

struct compiled_class {
  enum class payload_format : std::uint8_t { json, raw };
  std::string id;
  std::string title;
  std::string ecosystem;  // may be empty
  std::vector<topic_filter> topics;
  topic_template device_id;  // over captures; only literal and capture parts
  payload_format format = payload_format::json;
  std::optional<compiled_predicate> when;
  std::optional<compiled_announce> announces;  // messages of this class announce a state topic
  std::vector<compiled_field> fields;
  field_node root;                 // the field tree; root.field >= 0 for a "$" field
  std::vector<std::size_t> purposes;  // purposes with at least one rule in this class
  // Indexed by purpose: 1 where the purpose receives this class per window (its fields are all
  // aggregated): messages then give samples (release::samples), never a payload.
  std::vector<std::uint8_t> windowed;
  bool windowed_for(std::size_t purpose) const { return purpose < windowed.size() && windowed[purpose] != 0; }
};

// Known topics that stay home (Policy.ignore): dropped as ignored_topic.
struct compiled_ignore {
  std::vector<topic_filter> topics;
  std::string why;
  std::string ecosystem;  // may be empty
};

class compiled_policy {
 public:
  const std::string& name() const { return name_; }
  std::uint64_t version() const { return version_; }
  const std::vector<compiled_purpose>& purposes() const { return purposes_; }
  const std::vector<std::unique_ptr<compiled_class>>& classes() const { return classes_; }
  const std::vector<compiled_ignore>& ignores() const { return ignores_; }
  // Every (filter, class or ignore): topic_router.h says which takes a topic. With equal filter
  // shapes, classes with a predicate are offered first, then the class without, then an ignore.
  const topic_router& router() const { return router_; }
  int purpose_index(std::string_view id) const;
  const compiled_class* find_class(std::string_view id) const;
  // What an MQTT client must subscribe to for the classes' filters (topic_filter::subscription),
  // and for `extra` MQTT filters (unmatched.observe), without filters another one already
  // covers. Ignored topics need no subscription.
  std::vector<std::string> subscriptions(std::span<const std::string> extra = {}) const;
  // Whether any class announces: the evaluator then reads announcements even while paused.
  bool announces() const { return announces_; }

 private:
  friend class policy_compiler;
  std::string name_;
  std::uint64_t version_ = 0;
  std::vector<compiled_purpose> purposes_;
  std::vector<std::unique_ptr<compiled_class>> classes_;
  std::vector<compiled_ignore> ignores_;
  topic_router router_;
  bool announces_ = false;
};

}  // namespace portier::policies
