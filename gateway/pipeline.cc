#include "gateway/pipeline.h"

namespace portier::gateway {

void pipeline::install(std::shared_ptr<policies::evaluator> ev,
                       std::shared_ptr<const policies::consent_snapshot> consent) {
  std::lock_guard lock(mu_);
  current_ = std::move(ev);
  consent_ = std::move(consent);
}

void pipeline::set_consent(std::shared_ptr<const policies::consent_snapshot> consent) {
  std::lock_guard lock(mu_);
  consent_ = std::move(consent);
}

std::shared_ptr<const policies::compiled_policy> pipeline::policy() const {
  std::lock_guard lock(mu_);
  return current_ ? current_->shared_policy() : nullptr;
}

std::shared_ptr<const policies::consent_snapshot> pipeline::consent() const {
  std::lock_guard lock(mu_);
  return consent_;
}

void pipeline::process(std::string_view topic, std::string_view payload, std::int64_t now_ms, const sink& out,
                       const observer& seen) {
  std::lock_guard lock(mu_);
  ++counters_.received;
  if (!current_) {  // no policy: fail closed
    ++counters_.dropped;
    return;
  }
  const policies::decision& d = current_->evaluate(topic, payload, *consent_, now_ms);
  for (std::size_t i = 0; i < policies::kDropReasonCount; ++i) {
    if (d.drops()[i] != 0) counters_.drops[i] += d.drops()[i];
  }
  if (d.releases().empty()) ++counters_.dropped;
  for (const auto& r : d.releases()) {
    const auto& purpose = current_->policy().purposes()[r.purpose];
    ++counters_.released;
    counters_.add_released(purpose.id);
    out(r, purpose, d);
  }
  if (seen) seen(d);
}

std::vector<std::string> pipeline::subscriptions() const {
  const auto p = policy();
  return p ? p->subscriptions() : std::vector<std::string>{};
}

std::string pipeline::policy_name() const {
  const auto p = policy();
  return p ? p->name() : "";
}

std::uint64_t pipeline::policy_version() const {
  const auto p = policy();
  return p ? p->version() : 0;
}

}  // namespace portier::gateway
