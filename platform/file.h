// Whole-file reads with a size bound, and atomic replace (write temp, fsync, rename, fsync dir)
// so a power cut leaves either the old or the new content, never a mix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "platform/result.h"

namespace portier::platform {

// Reads `path` whole; fails with a message naming the file if it is missing, unreadable or
// larger than max_bytes.
result<std::string> read_file(const std::string& path, std::size_t max_bytes);

// Refuses a file holding a private key that group or others have any access to (mode & 077):
// "PATH: private key is readable by group or others; chmod 600 it".
result<bool> check_private_key_mode(const std::string& path);

// Replaces `path` atomically with `content`, created with `mode` permissions.
result<bool> write_file_atomic(const std::string& path, std::string_view content, unsigned mode);

// The names in directory `dir` (not "." or ".."), sorted. Fails with a message naming the
// directory when it cannot be opened or when reading it fails part-way (readdir's errors, e.g.
// EOVERFLOW on a 32-bit build without 64-bit offsets): a caller must never take an unreadable
// directory for an empty one (the spool would start over and overwrite its first segment).
result<std::vector<std::string>> list_directory(const std::string& dir);

// Reads (writes) exactly n bytes at `offset`, retrying short transfers and EINTR: the record
// files of the spool and the window journal. False on an error or (reading) the end of the file.
bool pread_all(int fd, char* buf, std::size_t n, std::uint64_t offset);
bool pwrite_all(int fd, const char* buf, std::size_t n, std::uint64_t offset);

}  // namespace portier::platform
