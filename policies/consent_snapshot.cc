#include "policies/consent_snapshot.h"

namespace portier::policies {

void consent_snapshot::set_household(std::string_view purpose, consent_decision d) {
  household_[std::string(purpose)] = d;
}

void consent_snapshot::set_class(std::string_view device_class, std::string_view purpose,
                                 consent_decision d) {
  classes_[std::string(device_class)][std::string(purpose)] = d;
}

void consent_snapshot::set_device(std::string_view device, std::string_view purpose, consent_decision d) {
  devices_[std::string(device)][std::string(purpose)] = d;
}

consent_decision consent_snapshot::find(const purpose_map& m, std::string_view purpose) {
  if (m.empty()) return consent_decision::unset;  // no hashing: the data path asks on every message
  const auto it = m.find(purpose);
  return it == m.end() ? consent_decision::unset : it->second;
}

consent_decision consent_snapshot::find(const scoped_map& m, std::string_view scope,
                                        std::string_view purpose) {
  if (m.empty()) return consent_decision::unset;
  const auto it = m.find(scope);
  return it == m.end() ? consent_decision::unset : find(it->second, purpose);
}

consent_decision consent_snapshot::lookup(std::string_view device, std::string_view device_class,
                                          std::string_view purpose) const {
  if (auto d = find(devices_, device, purpose); d != consent_decision::unset) return d;
  if (auto d = find(classes_, device_class, purpose); d != consent_decision::unset) return d;
  return find(household_, purpose);
}

}  // namespace portier::policies
