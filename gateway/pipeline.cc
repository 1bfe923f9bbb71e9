#include "gateway/pipeline.h"

namespace portier::gateway {

void pipeline::install(std::shared_ptr<policies::evaluator> ev,
                       std::shared_ptr<const policies::consent_snapshot> consent) {
  std::lock_guard lock(mu_);
  latest_ = std::move(ev);
  latest_consent_ = std::move(consent);
  changed_ = true;
}

void pipeline::process(std::string_view topic, std::string_view payload, std::int64_t now_ms, const sink& out) {
  if (changed_.exchange(false)) {
    std::lock_guard lock(mu_);
    current_ = latest_;
    consent_ = latest_consent_;
  }
  ++counters_.received;
  if (!current_) {  // no policy: fail closed
    ++counters_.dropped;
    return;
  }
  const policies::decision& d = current_->evaluate(topic, payload, *consent_, now_ms);
  for (std::size_t i = 0; i < policies::kDropReasonCount; ++i) {
    if (d.drops()[i] != 0) counters_.drops[i] += d.drops()[i];
  }
  if (d.releases().empty()) {
    ++counters_.dropped;
    return;
  }
  for (const auto& r : d.releases()) {
    const auto& purpose = current_->policy().purposes()[r.purpose];
    ++counters_.released;
    counters_.add_released(purpose.id);
    out(r, purpose, d);
  }
}

std::vector<std::string> pipeline::subscriptions() const {
  std::lock_guard lock(mu_);
  return latest_ ? latest_->policy().subscriptions() : std::vector<std::string>{};
}

std::string pipeline::policy_name() const {
  std::lock_guard lock(mu_);
  return latest_ ? latest_->policy().name() : "";
}

std::uint64_t pipeline::policy_version() const {
  std::lock_guard lock(mu_);
  return latest_ ? latest_->policy().version() : 0;
}

}  // namespace portier::gateway
