// The host-fast-path extension's bitmap of used KV cells against the std::set<uint32_t> it replaces in llama.cpp's
// cell store: the same size, first and last used cell after every step of random inserts, erases (scattered and in
// runs), clears and resizes. Compiled and run by used-cells.spec.ts against the patched header.
#include "llama-kv-cells.h"

#include <cstdio>
#include <random>
#include <set>

int main() {
    std::mt19937 random(20261124);
    llama_kv_used_cells bitmap;
    std::set<uint32_t> reference;
    uint32_t size = 1000;
    bitmap.resize(size);
    long checks = 0;
    for (int step = 0; step < 400000; ++step) {
        const uint32_t roll = random() % 1000;
        if (roll < 2) {  // a new cache size, emptied as llama_kv_cells::resize empties it
            size = 1 + random() % 5000;
            bitmap.resize(size);
            reference.clear();
        } else if (roll < 3) {
            bitmap.clear();
            reference.clear();
        } else if (roll < 500) {
            const uint32_t i = random() % size;
            bitmap.insert(i);
            reference.insert(i);
        } else if (roll < 950) {
            // erase near the ends too, where the bounds move
            const uint32_t i = roll < 700 || reference.empty() ? random() % size : (roll < 825 ? *reference.begin() : *reference.rbegin());
            if (bitmap.erase(i) != reference.erase(i)) { std::fprintf(stderr, "step %d: erase(%u) disagrees\n", step, i); return 1; }
        } else {
            // a run of cells, as a contiguous window evicts
            const uint32_t start = random() % size, length = random() % 200;
            for (uint32_t i = start; i < std::min(size, start + length); ++i) {
                if (roll % 2) { bitmap.insert(i); reference.insert(i); } else { bitmap.erase(i); reference.erase(i); }
            }
        }
        const uint32_t min = reference.empty() ? 0 : *reference.begin();
        const uint32_t max_p1 = reference.empty() ? 0 : *reference.rbegin() + 1;
        if (bitmap.size() != reference.size() || bitmap.empty() != reference.empty() || bitmap.min() != min || bitmap.max_p1() != max_p1) {
            std::fprintf(stderr, "step %d: size %zu/%zu min %u/%u max+1 %u/%u\n", step, bitmap.size(), reference.size(), bitmap.min(), min, bitmap.max_p1(), max_p1);
            return 1;
        }
        ++checks;
    }
    std::printf("%ld steps: the bitmap agreed with std::set on size, first and last used cell\n", checks);
    return 0;
}
