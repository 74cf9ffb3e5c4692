// The native cost of evicting one chunk at the GPU setup's occupancy, on llama.cpp's own cell store
// (llama_kv_cells, header-only) with no model: 65,600 cells kept, 4,096 appended and evicted per round, freed cells
// refilled from the start as the cache's slot search does (so the layout fragments as in a long stream).
// Stock: what node-llama-cpp's eraseContextTokenRanges makes llama.cpp do (one pass over the cells per range
// removed and per gap shifted, as llama_kv_cache::seq_rm and seq_add loop). Batched: the extension's seq_evict.
// Both start each round from the same state and must end in the same one. Run by bench/evict-cells.sh.
#define private public // the bench reads the cells' per-sequence position set to map indices to positions
#include "llama-kv-cells.h"
#undef private

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

using positions = std::vector<llama_pos>;

static void stock_rm(llama_kv_cells & cells, llama_pos p0, llama_pos p1) {
    for (uint32_t i = 0; i < cells.size(); ++i) {
        if (cells.pos_in(i, p0, p1) && cells.seq_has(i, 0)) {
            cells.seq_rm(i, 0);
        }
    }
}

static void stock_add(llama_kv_cells & cells, llama_pos p0, llama_pos p1, llama_pos shift) {
    for (uint32_t i = 0; i < cells.size(); ++i) {
        if (cells.pos_in(i, p0, p1) && cells.seq_has(i, 0)) {
            cells.pos_add(i, shift);
        }
    }
}

// eraseContextTokenRanges: remove each range, then shift the gap before it down by what was removed so far
static void stock_evict(llama_kv_cells & cells, const positions & drop, llama_pos next) {
    llama_pos removed = 0, last_end = -1;
    for (size_t k = 0; k < drop.size();) {
        size_t e = k + 1;
        while (e < drop.size() && drop[e] == drop[e - 1] + 1) ++e;
        const llama_pos start = drop[k], end = drop[e - 1] + 1;
        stock_rm(cells, start, end);
        if (last_end >= 0 && removed > 0 && last_end != start) stock_add(cells, last_end, start, -removed);
        removed += end - start;
        last_end = end;
        k = e;
    }
    if (removed > 0 && last_end != next) stock_add(cells, last_end, next, -removed);
}

static bool same_state(const llama_kv_cells & a, const llama_kv_cells & b) {
    for (uint32_t i = 0; i < a.size(); ++i) {
        if (a.pos[i] != b.pos[i] || a.seq[i] != b.seq[i] || a.shift[i] != b.shift[i]) return false;
    }
    return a.seq_pos[0] == b.seq_pos[0] && a.used == b.used;
}

int main(int argc, char ** argv) {
    if (argc < 2) { std::fprintf(stderr, "usage: evict-cells ROUNDS_FILE (one chunk's evicted indices per line)\n"); return 2; }
    std::ifstream in(argv[1]);
    std::vector<positions> rounds;
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        rounds.emplace_back();
        for (llama_pos p; words >> p;) rounds.back().push_back(p);
    }
    const uint32_t size = 69888, kept = 65600, chunk = 4096;
    llama_kv_cells cells;
    cells.resize(size);
    llama_pos next = 0;
    auto append = [&](uint32_t n) {
        for (uint32_t i = 0; i < size && n > 0; ++i) {
            if (cells.is_empty(i)) { cells.pos_set(i, next++); cells.seq_add(i, 0); --n; }
        }
    };
    append(kept);
    double stock_ms = 0, batched_ms = 0;
    int timed = 0;
    // the first pass over the rounds fragments the layout; the next two are timed
    for (size_t r = 0; r < 3 * rounds.size(); ++r) {
        append(chunk);
        positions in_cache;
        for (const auto & entry : cells.seq_pos[0]) in_cache.push_back(entry.first);
        positions drop;
        for (auto index : rounds[r % rounds.size()]) drop.push_back(in_cache.at(index));

        llama_kv_cells stock = cells;
        uint32_t first_freed = size;
        bool shifted = false;
        auto t0 = std::chrono::steady_clock::now();
        if (!cells.seq_evict(0, drop.data(), drop.size(), first_freed, shifted)) { std::fprintf(stderr, "seq_evict declined\n"); return 1; }
        auto t1 = std::chrono::steady_clock::now();
        stock_evict(stock, drop, next);
        auto t2 = std::chrono::steady_clock::now();
        if (!same_state(stock, cells)) { std::fprintf(stderr, "round %zu: batched and stock eviction differ\n", r); return 1; }
        next -= (llama_pos) drop.size();
        cells.reset_shift();
        if (r >= rounds.size()) {
            batched_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
            stock_ms += std::chrono::duration<double, std::milli>(t2 - t1).count();
            ++timed;
        }
    }
    std::printf("%-40s %3d chunks  stock %8.2f ms  batched %6.2f ms  (%.0fx), same cells after each\n", argv[1], timed, stock_ms / timed, batched_ms / timed, stock_ms / batched_ms);
    return 0;
}
