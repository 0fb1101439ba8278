"""Checks that src/test/resources/rng/ (read by TorchGeneratorTest) is what torch on this machine produces now.

The files are written by gen_rng_vectors.py. They hold the output of torch's vectorised AVX2 normal kernel, which torch
1.13 also runs when it is told to use AVX-512; with ATEN_CPU_CAPABILITY=default (or on a CPU without AVX2) torch takes a
scalar kernel with different last bits, and the comparison is skipped.
"""

import time
import unittest

import gen_rng_vectors as gen


class CommittedRngVectorsTest(unittest.TestCase):
    def test_committed_vectors_equal_what_torch_produces_now(self):
        capability = gen.cpu_capability()
        if capability not in ("AVX2", "AVX512"):
            self.skipTest("torch runs its %s kernel here; the vectors are from the AVX2 kernel" % capability)
        start = time.time()
        index, files = gen.build()
        self.assertEqual(gen.check(index, files), [])
        self.assertLess(time.time() - start, 60)

    def test_seed_mapping_matches_what_the_java_generator_assumes(self):
        # only the low 32 bits seed the Mersenne Twister; negative seeds wrap to uint64
        self.assertEqual(gen.raw_words(2 ** 32 + 5, 8), gen.raw_words(5, 8))
        self.assertEqual(gen.raw_words(-1, 8), gen.raw_words(2 ** 32 - 1, 8))
        # the standard MT19937 stream for its reference seed
        self.assertEqual(gen.raw_words(5489, 2), [3499211612, 581869302])


if __name__ == "__main__":
    unittest.main()
