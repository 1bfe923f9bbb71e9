// Frames a control connection's byte stream into request bodies (the frame format of
// platform/unix_socket.h: a 4-byte big-endian body length, then the body), without a socket, so
// that the control server can read from many connections at once and a fuzzer can feed it bytes.
//
// The owner asks how many bytes the current frame still needs (wanted()), reads at most that
// many and feed()s them. feed() never takes a byte of the next frame: what a client sends after a
// request stays in the kernel until that request is answered, and the buffer holds at most one
// frame. The length alone decides a frame too large, before any of its body is buffered, so a
// hostile peer cannot make the reader allocate more than max_body_bytes. After too_large the
// stream cannot be trusted to continue at a frame boundary: the owner closes the connection.
//
// Not thread-safe; one per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace portier::gateway {

class control_frame_reader {
 public:
  explicit control_frame_reader(std::size_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}

  enum class state {
    partial,    // more bytes needed: wanted() > 0
    frame,      // a whole frame is buffered: take() it
    too_large,  // the length (length()) exceeds max_body_bytes; nothing more is taken
  };
  state current() const { return state_; }

  // Bytes the current frame still needs as far as known (its length's 4 bytes, then the rest of
  // its body); 0 unless partial.
  std::size_t wanted() const;
  // Takes bytes from the front of `bytes` up to the end of the current frame, never beyond it
  // (nor beyond a length that makes it too large); returns how many it took.
  std::size_t feed(std::string_view bytes);
  // Some bytes of a frame were received but not the whole of it (an end of stream now is a
  // client that went away mid-request, not between requests).
  bool inside_frame() const { return state_ == state::partial && got_ > 0; }
  // The announced body length, once its 4 bytes are in.
  std::uint32_t length() const { return length_; }

  // The frame's body; the reader starts on the next frame. Only in state frame.
  std::string take();

 private:
  std::size_t max_body_bytes_;
  state state_ = state::partial;
  unsigned char header_[4] = {};
  std::size_t got_ = 0;  // bytes of the current frame so far, header included
  std::uint32_t length_ = 0;
  std::string body_;
};

}  // namespace portier::gateway
