// Fuzz target: what a client sends on the control socket, as portierd's control server takes it
// apart without a socket: control_frame_reader frames the stream, parse_request parses and
// validates each body (validate_request), and the answer path makes a response's strings valid
// UTF-8. The input's first two bytes choose the largest body accepted (byte 0: 0 means 64 KiB,
// the daemon's limit, anything else that many times 3 bytes) and how the stream arrives (byte 1:
// 0 all at once, 1 byte by byte, else read sizes from a small generator seeded by it); the rest
// is the stream.
//
// Checked against an independent model of the stream (4-byte big-endian length, then the body):
// every frame handed over is the frame at that position, a length over the limit ends the stream
// as too_large before any of its body is taken, the reader never takes a byte of the next frame,
// and what it says is left mid-frame matches. A request that
// passes parse_request passes validate_request and has a command; one that fails gets
// INVALID_REQUEST with a message and no result.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/household/control_frame.h"
#include "gateway/household/control_protocol.h"
#include "gateway/household/control_server.h"
#include "policies/json_text.h"

namespace {

using portier::gateway::control_frame_reader;
namespace gw = portier::gateway;

constexpr std::int64_t kNowMs = 1'700'000'000'000;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "\n*** INVARIANT VIOLATED: %s\n", what);
  std::abort();
}

void require(bool ok, const char* what) {
  if (!ok) violated(what);
}

struct model {
  std::vector<std::string_view> frames;
  std::vector<std::size_t> ends;  // offset just after each frame
  bool too_large = false;
  std::uint32_t too_large_length = 0;
  std::size_t too_large_at = 0;  // offset just after the length that is too large
  std::size_t left = 0;          // bytes of an unfinished frame at the end (not after too_large)
};

model frames_of(std::string_view s, std::size_t max) {
  model m;
  std::size_t pos = 0;
  while (s.size() - pos >= 4) {
    const auto b = [&](std::size_t i) {
      return std::uint32_t{static_cast<unsigned char>(s[pos + i])};
    };
    const std::uint32_t len = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
    if (len > max) {
      m.too_large = true;
      m.too_large_length = len;
      m.too_large_at = pos + 4;
      return m;
    }
    if (s.size() - pos - 4 < len) break;
    m.frames.push_back(s.substr(pos + 4, len));
    pos += 4 + len;
    m.ends.push_back(pos);
  }
  m.left = s.size() - pos;
  return m;
}

void check_request(const std::string& body) {
  gw::parsed_request p = gw::parse_request(body, kNowMs);
  if (p.error) {
    require(p.error->code() == portier::control::Response::INVALID_REQUEST, "error code");
    require(!p.error->message().empty(), "error without a message");
    require(p.error->result_case() == portier::control::Response::RESULT_NOT_SET, "error result");
    return;
  }
  require(p.request.command_case() != portier::control::Request::COMMAND_NOT_SET, "no command");
  require(!gw::validate_request(p.request, kNowMs).has_value(), "validation not stable");
  // The answer path: whatever a service echoes back is made valid UTF-8.
  portier::control::Response r;
  r.mutable_explain()->set_device_id(body);
  r.set_message(p.request.method() + body);
  gw::make_strings_utf8(r);
  require(portier::policies::valid_utf8(r.explain().device_id()), "device id not made UTF-8");
  require(portier::policies::valid_utf8(r.message()), "message not made UTF-8");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t max = data[0] == 0 ? gw::kMaxControlRequestBytes : std::size_t{data[0]} * 3;
  const std::uint8_t mode = data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);
  const model m = frames_of(stream, max);

  control_frame_reader reader(max);
  std::uint32_t rng = mode * 2654435761u + 1;
  std::size_t pos = 0, next_frame = 0;
  bool stopped = false;
  while (pos < stream.size() && !stopped) {
    std::size_t chunk = stream.size() - pos;
    if (mode == 1) {
      chunk = 1;
    } else if (mode > 1) {
      rng = rng * 1103515245u + 12345u;
      chunk = std::min<std::size_t>(chunk, 1 + (rng >> 16) % 97);
    }
    std::string_view piece = stream.substr(pos, chunk);
    while (!piece.empty()) {
      require(reader.current() == control_frame_reader::state::partial, "fed while not partial");
      const std::size_t wanted = reader.wanted();
      require(wanted > 0, "partial but wants nothing");
      const std::size_t took = reader.feed(piece);
      require(took > 0 && took <= piece.size(), "took nothing, or more than given");
      piece.remove_prefix(took);
      pos += took;
      if (reader.current() == control_frame_reader::state::partial) {
        require(piece.empty(), "stopped taking in the middle of a frame");
        require(reader.wanted() > 0, "partial but wants nothing");
      }
      if (reader.current() == control_frame_reader::state::too_large) {
        require(m.too_large && next_frame == m.frames.size(), "too_large where the model has none");
        require(pos == m.too_large_at, "too_large not right after its length");
        require(reader.length() == m.too_large_length && reader.length() > max, "too_large length");
        require(reader.wanted() == 0, "too_large wants more");
        stopped = true;
        break;
      }
      if (reader.current() == control_frame_reader::state::frame) {
        require(next_frame < m.frames.size(), "a frame the model does not have");
        require(pos == m.ends[next_frame], "took bytes of the next frame");
        require(reader.wanted() == 0, "a whole frame wants more");
        const std::string body = reader.take();
        require(body == m.frames[next_frame], "frame differs from the model");
        require(body.size() <= max, "frame over the limit");
        ++next_frame;
        check_request(body);
      }
    }
  }
  require(next_frame == m.frames.size(), "frames missing");
  if (!m.too_large) {
    require(reader.current() == control_frame_reader::state::partial, "ended not partial");
    require(reader.inside_frame() == (m.left > 0), "inside_frame differs from the model");
    require(reader.wanted() > 0, "partial but wants nothing at the end");
  }
  return 0;
}
