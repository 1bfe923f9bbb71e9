// What the differential-privacy noise of an aggregate (Aggregate.noise, docs/POLICY.md) costs in
// accuracy: its sensitivity on the result's grid, and the mean absolute error it adds to a window's
// result. `portier-policy explain` states this next to each noisy rule, and
// tests/policies/noise_utility_test.cc measures it for the shipped defaults.
#pragma once

#include <cstdint>
#include <optional>

#include "policies/field_action.h"

namespace portier::policies {

// Δ in steps of the result's grid: (upper − lower) / step, divided by the window's sample count
// for MEAN (one sample moves a mean of n samples by at most 1/n of the clamp's width).
double noise_sensitivity_steps(const aggregate_spec& spec, std::uint64_t samples);

// The expected absolute error E|X| · step, in the field's unit, that the noise adds to a window
// of `samples` samples (only MEAN depends on it). nullopt without noise, for no samples, or when
// the sampler refuses the parameters (discrete_laplace::make).
std::optional<double> expected_noise_error(const aggregate_spec& spec, std::uint64_t samples);

}  // namespace portier::policies
