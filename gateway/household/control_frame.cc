#include "gateway/household/control_frame.h"

#include <algorithm>
#include <utility>

namespace portier::gateway {

namespace {
constexpr std::size_t kHeader = 4;
}

std::size_t control_frame_reader::wanted() const {
  if (state_ != state::partial) return 0;
  if (got_ < kHeader) return kHeader - got_;
  return kHeader + length_ - got_;
}

std::size_t control_frame_reader::feed(std::string_view bytes) {
  std::size_t taken = 0;
  while (state_ == state::partial && taken < bytes.size()) {
    const std::size_t n = std::min(wanted(), bytes.size() - taken);
    if (got_ < kHeader) {
      for (std::size_t i = 0; i < n; ++i)
        header_[got_ + i] = static_cast<unsigned char>(bytes[taken + i]);
      got_ += n;
      taken += n;
      if (got_ < kHeader) break;
      length_ = (std::uint32_t{header_[0]} << 24) | (std::uint32_t{header_[1]} << 16) |
                (std::uint32_t{header_[2]} << 8) | std::uint32_t{header_[3]};
      if (length_ > max_body_bytes_) {
        state_ = state::too_large;
        break;
      }
      body_.clear();
      body_.reserve(length_);
    } else {
      body_.append(bytes.substr(taken, n));
      got_ += n;
      taken += n;
    }
    if (got_ == kHeader + length_) state_ = state::frame;
  }
  return taken;
}

std::string control_frame_reader::take() {
  std::string body = std::exchange(body_, {});
  state_ = state::partial;
  got_ = 0;
  length_ = 0;
  return body;
}

}  // namespace portier::gateway
