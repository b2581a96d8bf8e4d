// The per-thread cache of OpenSSL's small blocks, called as OpenSSL calls it (the functions are
// not installed here: this executable's OpenSSL keeps its own malloc). Misses go to a counting
// backing allocator, so what reaches the heap is seen.
#include "server/openssl_memory.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

namespace mlnetpol::server {
namespace {

std::atomic<int> heap_blocks{0};  // handed out by the backing allocator and not given back
std::atomic<int> heap_calls{0};   // the backing allocator's allocations

void* counted_allocate(std::size_t n) {
  heap_calls.fetch_add(1);
  heap_blocks.fetch_add(1);
  return std::malloc(n);
}
void* counted_reallocate(void* p, std::size_t n) {
  if (p == nullptr) heap_blocks.fetch_add(1);
  return std::realloc(p, n);
}
void counted_release(void* p) {
  if (p != nullptr) heap_blocks.fetch_sub(1);
  std::free(p);
}

void* take(std::size_t n) {
  return openssl_memory_allocate(n, __FILE__, __LINE__);
}
void give(void* p) {
  openssl_memory_release(p, __FILE__, __LINE__);
}
void* resize(void* p, std::size_t n) {
  return openssl_memory_reallocate(p, n, __FILE__, __LINE__);
}

// Each case on a thread of its own: its cache starts empty and is given back when it ends.
template <typename F>
void on_new_thread(F f) {
  set_openssl_memory_backing({counted_allocate, counted_reallocate, counted_release});
  std::thread t(f);
  t.join();
  set_openssl_memory_backing({});
}

}  // namespace

TEST_CASE("openssl memory: a released small block is handed out again, no heap") {
  const int before = heap_blocks.load();
  int reached_heap = -1;
  on_new_thread([&] {
    void* first = take(40);
    give(first);
    const int after_first = heap_calls.load();
    for (int i = 0; i < 1000; ++i) {
      void* p = take(33 + i % 31);  // the same size class (33..64 bytes)
      CHECK(p == first);
      std::memset(p, 0xAB, 64);  // the whole class is usable
      give(p);
    }
    reached_heap = heap_calls.load() - after_first;
    CHECK(openssl_memory_cached() == 1);
  });
  CHECK(reached_heap == 0);
  // The thread's end gave its cached block back.
  CHECK(heap_blocks.load() == before);
}

TEST_CASE("openssl memory: large blocks and blocks beyond the bound go to the heap") {
  const int before = heap_blocks.load();
  on_new_thread([&] {
    void* big = take(4096);
    std::memset(big, 1, 4096);
    const int with_big = heap_blocks.load();
    give(big);
    CHECK(heap_blocks.load() == with_big - 1);  // not cached
    std::vector<void*> blocks;
    for (int i = 0; i < 200; ++i) blocks.push_back(take(100));
    for (void* p : blocks) give(p);
    // A bounded list: at most 64 of the 200 stay.
    CHECK(openssl_memory_cached() == 64);
    CHECK(heap_blocks.load() - before == 64);
  });
  CHECK(heap_blocks.load() == before);
}

TEST_CASE("openssl memory: realloc keeps the bytes across classes and into the heap") {
  const int before = heap_blocks.load();
  on_new_thread([&] {
    auto* p = static_cast<unsigned char*>(take(20));
    for (int i = 0; i < 20; ++i) p[i] = static_cast<unsigned char>(i);
    p = static_cast<unsigned char*>(resize(p, 30));  // same class: same block
    p = static_cast<unsigned char*>(resize(p, 200));
    for (int i = 0; i < 20; ++i) CHECK(p[i] == i);
    for (int i = 20; i < 200; ++i) p[i] = static_cast<unsigned char>(i);
    p = static_cast<unsigned char*>(resize(p, 10'000));  // past the classes: the heap's realloc
    for (int i = 0; i < 200; ++i) CHECK(p[i] == static_cast<unsigned char>(i));
    p = static_cast<unsigned char*>(resize(p, 20'000));
    for (int i = 0; i < 200; ++i) CHECK(p[i] == static_cast<unsigned char>(i));
    CHECK(resize(p, 0) == nullptr);  // CRYPTO_realloc(p, 0): freed
    void* fresh = resize(nullptr, 50);
    CHECK(fresh != nullptr);
    give(fresh);
    give(nullptr);
    CHECK(take(std::size_t(-1)) == nullptr);  // no overflow of the header's room
  });
  CHECK(heap_blocks.load() == before);
}

TEST_CASE("openssl memory: a block freed on another thread") {
  const int before = heap_blocks.load();
  void* from_a = nullptr;
  on_new_thread([&] { from_a = take(64); });
  // This thread never allocated through the cache: its exit would not give a list back, so the
  // block goes to the heap at once.
  set_openssl_memory_backing({counted_allocate, counted_reallocate, counted_release});
  std::thread b([&] { give(from_a); });
  b.join();
  set_openssl_memory_backing({});
  CHECK(heap_blocks.load() == before);
}

}  // namespace mlnetpol::server
