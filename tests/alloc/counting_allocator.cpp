#include "tests/alloc/counting_allocator.hpp"

#include <execinfo.h>

#include <cstdlib>
#include <new>

#include <unistd.h>

#include "server/openssl_memory.hpp"

namespace mlnetpol::testing::alloc {
namespace {

std::atomic<std::uint64_t> allocations{0};
std::atomic<std::uint64_t> openssl_allocations{0};
thread_local bool counting = false;

std::atomic<bool> tracing{false};
thread_local bool in_trace = false;

void note() {
  if (!counting) return;
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (tracing.load(std::memory_order_relaxed) && !in_trace) {
    in_trace = true;
    void* frames[24];
    const int n = backtrace(frames, 24);
    backtrace_symbols_fd(frames, n, 2);
    write(2, "----\n", 5);
    in_trace = false;
  }
}

void* checked(void* p) {
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* aligned(std::size_t size, std::align_val_t align) {
  note();
  void* p = nullptr;
  const auto a = std::max(static_cast<std::size_t>(align), sizeof(void*));
  if (posix_memalign(&p, a, size == 0 ? 1 : size) != 0) return nullptr;
  return p;
}

void note_openssl() {
  if (counting) openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  note();
}

void* ssl_malloc(std::size_t n) {
  note_openssl();
  return std::malloc(n);
}
void* ssl_realloc(void* p, std::size_t n) {
  note_openssl();
  return std::realloc(p, n);
}

// Before main, so before OpenSSL's first allocation: the production cache (as main installs it),
// whose misses are what OpenSSL takes from the heap, and are counted.
const bool openssl_counted =
    server::install_openssl_memory({ssl_malloc, ssl_realloc, std::free});

}  // namespace

std::uint64_t count() {
  return allocations.load();
}
std::uint64_t openssl_count() {
  return openssl_allocations.load();
}
void trace(bool on) {
  tracing = on;
}
bool counts_openssl() {
  return openssl_counted;
}

counting_scope::counting_scope() : was_(counting) {
  counting = true;
}
counting_scope::~counting_scope() {
  counting = was_;
}

}  // namespace mlnetpol::testing::alloc

// Every form of operator new and delete is replaced, all on malloc and free. That is what makes this
// work under AddressSanitizer too (MLNETPOL_SANITIZE builds and runs alloc_tests like every other
// suite): ASan intercepts malloc and free, and the executable's definitions, exported because the
// shared libraries (libstdc++, simdjson) call them, serve every allocation of the process, so no
// block is freed by an allocator other than its own. (A replacement of operator new(size_t) alone,
// as admission_tests once had, left the other forms to the sanitizer and had to be off under ASan.)
using mlnetpol::testing::alloc::aligned;
using mlnetpol::testing::alloc::checked;
using mlnetpol::testing::alloc::note;

void* operator new(std::size_t n) {
  note();
  return checked(std::malloc(n == 0 ? 1 : n));
}
void* operator new[](std::size_t n) {
  note();
  return checked(std::malloc(n == 0 ? 1 : n));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  note();
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  note();
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return checked(aligned(n, a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return checked(aligned(n, a));
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return aligned(n, a);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
