#pragma once
// Counts the heap allocations (operator new, and OpenSSL's mallocs) made on threads that opted in
// (counting_scope). Only for the alloc_tests executable, which replaces the global operator new.
#include <atomic>
#include <cstdint>

namespace mlnetpol::testing::alloc {

// Allocations counted so far on every counting thread.
std::uint64_t count();
// Of these, OpenSSL's (CRYPTO_malloc and CRYPTO_realloc).
std::uint64_t openssl_count();

// Prints a backtrace of each counted allocation to stderr while on (to find them).
void trace(bool on);

// While alive, this thread's allocations are counted.
class counting_scope {
 public:
  counting_scope();
  ~counting_scope();
  counting_scope(const counting_scope&) = delete;
  counting_scope& operator=(const counting_scope&) = delete;

 private:
  bool was_;
};

// True when OpenSSL's allocations are counted too (its memory functions were set before its
// first allocation).
bool counts_openssl();

}  // namespace mlnetpol::testing::alloc
