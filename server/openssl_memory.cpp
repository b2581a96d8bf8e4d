#include "server/openssl_memory.hpp"

#include <pthread.h>

#include <array>
#include <cstring>
#include <limits>

#include <openssl/crypto.h>

namespace mlnetpol::server {
namespace {

// Every block starts with this, so that a release finds its size class without a lookup; 16 bytes
// keep the block as aligned as malloc's.
struct alignas(16) header {
  std::uint32_t size_class;
};
static_assert(sizeof(header) == 16);

constexpr std::array<std::size_t, 4> class_sizes = {32, 64, 128, 256};
constexpr std::uint32_t uncached = 0xFFFFFFFFu;
// Per class and thread: enough for the blocks one request's records take, bounded.
constexpr std::uint16_t max_per_class = 64;

constexpr std::uint32_t class_of(std::size_t n) {
  std::uint32_t c = 0;
  while (class_sizes[c] < n) ++c;
  return c;
}

memory_functions backing;

// A block's header, and its start as the backing allocator handed it out.
header* header_of(void* p) {
  return reinterpret_cast<header*>(static_cast<char*>(p) - sizeof(header));
}
void* user_of(void* base) {
  return static_cast<char*>(base) + sizeof(header);
}

// Trivially destructible: usable in other threads' exit hooks, including OpenSSL's own, after
// this thread's lists were given back (closed: a release then goes to the backing allocator).
struct thread_cache {
  std::array<void*, class_sizes.size()> head;  // each free block's first bytes link the next
  std::array<std::uint16_t, class_sizes.size()> count;
  bool closed;
  bool registered;
};
constinit thread_local thread_cache cache{};

void give_back(void* arg) {
  auto& t = *static_cast<thread_cache*>(arg);
  t.closed = true;
  for (std::size_t c = 0; c < class_sizes.size(); ++c) {
    while (void* p = t.head[c]) {
      std::memcpy(&t.head[c], p, sizeof(void*));
      backing.release(header_of(p));
    }
    t.count[c] = 0;
  }
}

pthread_key_t exit_key() {
  static const pthread_key_t key = [] {
    pthread_key_t k;
    pthread_key_create(&k, give_back);
    return k;
  }();
  return key;
}

// What the backing allocator is asked for to hold n bytes after a header; 0 when that overflows.
std::size_t backing_size(std::size_t n) {
  return n > std::numeric_limits<std::size_t>::max() - sizeof(header) ? 0 : sizeof(header) + n;
}

void* new_block(std::size_t capacity, std::uint32_t size_class) {
  const std::size_t total = backing_size(capacity);
  if (total == 0) return nullptr;
  void* base = backing.allocate(total);
  if (base == nullptr) return nullptr;
  static_cast<header*>(base)->size_class = size_class;
  return user_of(base);
}

}  // namespace

void* openssl_memory_allocate(std::size_t n, const char*, int) {
  thread_cache& t = cache;
  if (n > class_sizes.back() || t.closed) return new_block(n, uncached);
  const std::uint32_t c = class_of(n);
  if (void* p = t.head[c]) {
    std::memcpy(&t.head[c], p, sizeof(void*));
    --t.count[c];
    return p;
  }
  if (!t.registered) {
    // A non-null value makes the key's destructor run at this thread's exit.
    t.registered = pthread_setspecific(exit_key(), &t) == 0;
  }
  return new_block(class_sizes[c], c);
}

void openssl_memory_release(void* p, const char*, int) {
  if (p == nullptr) return;
  const std::uint32_t c = header_of(p)->size_class;
  thread_cache& t = cache;
  // Unregistered: a thread whose exit would not give its lists back keeps none.
  if (c == uncached || t.closed || !t.registered || t.count[c] >= max_per_class) {
    return backing.release(header_of(p));
  }
  std::memcpy(p, &t.head[c], sizeof(void*));
  t.head[c] = p;
  ++t.count[c];
}

void* openssl_memory_reallocate(void* p, std::size_t n, const char* file, int line) {
  if (p == nullptr) return openssl_memory_allocate(n, file, line);
  if (n == 0) {  // CRYPTO_realloc's contract: free, and no block
    openssl_memory_release(p, file, line);
    return nullptr;
  }
  const std::uint32_t c = header_of(p)->size_class;
  if (c == uncached) {
    const std::size_t total = backing_size(n);
    if (total == 0) return nullptr;
    void* base = backing.reallocate(header_of(p), total);
    return base == nullptr ? nullptr : user_of(base);
  }
  if (n <= class_sizes[c]) return p;
  void* moved = openssl_memory_allocate(n, file, line);
  if (moved == nullptr) return nullptr;
  std::memcpy(moved, p, class_sizes[c]);
  openssl_memory_release(p, file, line);
  return moved;
}

std::size_t openssl_memory_cached() {
  std::size_t n = 0;
  for (const auto c : cache.count) n += c;
  return n;
}

void set_openssl_memory_backing(memory_functions functions) {
  backing = functions;
}

bool install_openssl_memory(memory_functions functions) {
  set_openssl_memory_backing(functions);
  return CRYPTO_set_mem_functions(openssl_memory_allocate, openssl_memory_reallocate,
                                  openssl_memory_release) == 1;
}

}  // namespace mlnetpol::server
