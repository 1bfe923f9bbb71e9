#include "platform/file.h"

#include <sys/stat.h>
#include <unistd.h>
#include <cstdlib>
#include <string>

#include <CppUTest/TestHarness.h>

using namespace portier::platform;

TEST_GROUP(file) {
  std::string dir;
  void setup() override {
    char tmpl[] = "/tmp/portier-file-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  void teardown() override {
    std::string cmd = "rm -rf " + dir;
    CHECK_EQUAL(0, std::system(cmd.c_str()));
  }
};

TEST(file, atomic_write_then_read_back_with_mode) {
  const std::string path = dir + "/state";
  CHECK(write_file_atomic(path, "first", 0600).ok());
  CHECK(write_file_atomic(path, "second", 0600).ok());
  auto content = read_file(path, 100);
  CHECK(content.ok());
  STRCMP_EQUAL("second", content->c_str());
  struct stat st {};
  CHECK_EQUAL(0, ::stat(path.c_str(), &st));
  CHECK_EQUAL(0600u, st.st_mode & 0777u);
  CHECK_EQUAL(-1, ::access((path + ".tmp").c_str(), F_OK));
}

TEST(file, read_refuses_files_over_the_limit_and_names_the_file) {
  const std::string path = dir + "/big";
  CHECK(write_file_atomic(path, std::string(101, 'x'), 0600).ok());
  auto content = read_file(path, 100);
  CHECK_FALSE(content.ok());
  STRCMP_EQUAL((path + ": larger than the limit of 100 bytes").c_str(),
               content.error_message().c_str());
}

TEST(file, read_of_a_missing_file_names_it) {
  auto content = read_file(dir + "/missing", 100);
  CHECK_FALSE(content.ok());
  STRCMP_CONTAINS("/missing: cannot open: No such file or directory",
                  content.error_message().c_str());
}

TEST(file, list_directory_gives_the_sorted_names_without_dot_entries) {
  CHECK_TRUE(write_file_atomic(dir + "/b.seg", "x", 0600).ok());
  CHECK_TRUE(write_file_atomic(dir + "/a.seg", "x", 0600).ok());
  CHECK_EQUAL(0, ::mkdir((dir + "/sub").c_str(), 0700));
  auto names = list_directory(dir);
  CHECK_TRUE(names.ok());
  CHECK_EQUAL(3u, names->size());
  STRCMP_EQUAL("a.seg", (*names)[0].c_str());
  STRCMP_EQUAL("b.seg", (*names)[1].c_str());
  STRCMP_EQUAL("sub", (*names)[2].c_str());
  ::rmdir((dir + "/sub").c_str());
  ::unlink((dir + "/a.seg").c_str());
  ::unlink((dir + "/b.seg").c_str());
}

TEST(file, a_directory_that_cannot_be_listed_is_an_error_never_an_empty_list) {
  auto missing = list_directory(dir + "/missing");
  CHECK_FALSE(missing.ok());
  STRCMP_CONTAINS("/missing: cannot open the directory", missing.error_message().c_str());
  CHECK_TRUE(write_file_atomic(dir + "/plain", "x", 0600).ok());
  auto not_dir = list_directory(dir + "/plain");
  CHECK_FALSE(not_dir.ok());
  STRCMP_CONTAINS("Not a directory", not_dir.error_message().c_str());
  ::unlink((dir + "/plain").c_str());
}
