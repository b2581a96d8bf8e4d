#pragma once
// OpenSSL's small blocks from a per-thread cache instead of the heap. OpenSSL 3.0 allocates and
// frees a few tiny blocks for every TLS record it reads or writes (a WPACKET's sub-packet
// bookkeeping: four per keep-alive request, bench/README.md); no public API reuses them. Installed
// as OpenSSL's memory functions, blocks up to 256 bytes go back to a short free list of the thread
// that frees them and are handed out again from it; larger ones, and any beyond the lists' bound,
// go to and from the backing allocator. A thread's lists are given back when it exits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace mlnetpol::server {

struct memory_functions {
  void* (*allocate)(std::size_t) = std::malloc;
  void* (*reallocate)(void*, std::size_t) = std::realloc;
  void (*release)(void*) = std::free;
};

// Makes the cache OpenSSL's allocator, over `backing`. Only before OpenSSL's first allocation
// (the first thing main does): false, and OpenSSL keeps its own, once it has allocated.
bool install_openssl_memory(memory_functions backing = {});

// Where the cache's misses go, without installing it (for the tests).
void set_openssl_memory_backing(memory_functions backing);

// The cache's own functions, as OpenSSL calls them (for the tests).
void* openssl_memory_allocate(std::size_t n, const char* file, int line);
void* openssl_memory_reallocate(void* p, std::size_t n, const char* file, int line);
void openssl_memory_release(void* p, const char* file, int line);

// This thread's cached blocks (for the tests).
std::size_t openssl_memory_cached();

}  // namespace mlnetpol::server
