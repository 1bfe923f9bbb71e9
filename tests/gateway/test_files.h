// Whole-file reads and writes for tests that damage what a store left on disk.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace portier::gateway::test {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace portier::gateway::test
