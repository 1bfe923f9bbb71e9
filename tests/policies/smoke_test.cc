#include <CppUTest/TestHarness.h>

TEST_GROUP(smoke){};
TEST(smoke, placeholder_replaced_by_real_tests) { CHECK(true); }
