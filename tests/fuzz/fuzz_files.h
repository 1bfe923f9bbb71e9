// Files for the fuzz targets that read back what portierd keeps on disk (fuzz_store_recovery,
// fuzz_window_recovery): one working directory per process, removed at exit.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace portier::fuzz {

inline void remove_tree(const std::string& dir) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

// A directory of its own for this process (`name` tells which target made it), on a tmpfs when
// there is one: every run creates keys and files and syncs them.
inline const std::string& work_dir(const char* name) {
  static const std::string dir = [name] {
    struct stat st {};
    std::string tmpl = ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    tmpl += std::string("/portier-") + name + "-XXXXXX";
    return std::string(::mkdtemp(tmpl.data()));
  }();
  static const bool cleanup_registered = [] {
    return std::atexit([] { remove_tree(dir); }) == 0;
  }();
  (void)cleanup_registered;
  return dir;
}

inline void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace portier::fuzz
