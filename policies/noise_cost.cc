#include "policies/noise_cost.h"

#include "policies/discrete_laplace.h"

namespace portier::policies {

double noise_sensitivity_steps(const aggregate_spec& spec, std::uint64_t samples) {
  double steps = (spec.upper - spec.lower) / spec.step;
  if (spec.fn == aggregate_fn::mean && samples > 0) steps /= static_cast<double>(samples);
  return steps;
}

std::optional<double> expected_noise_error(const aggregate_spec& spec, std::uint64_t samples) {
  if (!spec.noisy || samples == 0) return std::nullopt;
  const auto noise = discrete_laplace::make(spec.epsilon, noise_sensitivity_steps(spec, samples));
  if (!noise) return std::nullopt;
  return noise->expected_abs() * spec.step;
}

}  // namespace portier::policies
