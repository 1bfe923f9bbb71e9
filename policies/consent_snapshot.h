// The household's consent at one instant, as the engine reads it. Immutable once built and
// shared across threads through shared_ptr<const consent_snapshot>; a change builds a new one.
//
// Decisions are per (scope, purpose); the most specific scope wins: device, then device class,
// then household. Where no scope decides, the purpose's default applies (granted for contract,
// legitimate-interest and legal-obligation purposes outside special categories; refused for
// everything on a consent basis and every special category). A pause refuses everything.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace portier::policies {

enum class consent_decision : std::uint8_t { unset, granted, refused };

class consent_snapshot {
 public:
  void set_paused(bool paused) { paused_ = paused; }
  void set_household(std::string_view purpose, consent_decision d);
  void set_class(std::string_view device_class, std::string_view purpose, consent_decision d);
  void set_device(std::string_view device, std::string_view purpose, consent_decision d);

  bool paused() const { return paused_; }
  // The most specific explicit decision, or unset.
  consent_decision lookup(std::string_view device, std::string_view device_class,
                          std::string_view purpose) const;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using purpose_map = std::unordered_map<std::string, consent_decision, string_hash, std::equal_to<>>;
  using scoped_map = std::unordered_map<std::string, purpose_map, string_hash, std::equal_to<>>;
  static consent_decision find(const purpose_map& m, std::string_view purpose);
  static consent_decision find(const scoped_map& m, std::string_view scope, std::string_view purpose);

  bool paused_ = false;
  purpose_map household_;
  scoped_map classes_;
  scoped_map devices_;
};

}  // namespace portier::policies
