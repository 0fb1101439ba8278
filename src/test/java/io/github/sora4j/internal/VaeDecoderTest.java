package io.github.sora4j.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.device.WeightPrecision;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.testing.RealSizeManifests;
import org.junit.jupiter.api.Test;

class VaeDecoderTest {

    @Test
    void decodingTheSpatialHalfInSmallerMicroBatchesGivesTheSamePixels() {
        ModelPack pack = ModelPack.embedded("tiny-random");
        PackManifest.Vae v = pack.manifest().vae();
        int frames = 17;
        int t = VaeDecoder.latentFrames(v, frames);
        int s = 64 / v.spatialCompression();
        VaeDecoder decoder = new VaeDecoder(pack);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                BlockLoader loader = BlockLoaders.resident(pack)) {
            NDArray z = m.randomNormal(new Shape(1, v.latentChannels(), t, s, s));
            float[] whole = decoder.decode(z, frames, loader, m, (i, n, b, ns) -> { },
                    v.spatialMicroBatch()).toFloatArray();
            assertThat(v.spatialMicroBatch()).isGreaterThan(1);
            for (int mb : new int[] {1, 3, frames}) {
                NDArray pixels = decoder.decode(z, frames, loader, m, (i, n, b, ns) -> { }, mb);
                assertThat(pixels.getShape()).isEqualTo(new Shape(3, frames, 64, 64));
                float[] split = pixels.toFloatArray();
                double worst = 0;
                for (int i = 0; i < whole.length; i++) {
                    worst = Math.max(worst, Math.abs(split[i] - whole[i]));
                }
                assertThat(worst).as("micro-batch %d", mb).isLessThanOrEqualTo(1e-4);
            }
            assertThatThrownBy(() -> decoder.decode(z, frames, loader, m, (i, n, b, ns) -> { }, 0))
                    .isInstanceOf(InvalidConfigurationException.class)
                    .hasMessage("microBatch must be >= 1 but was 0");
        }
    }

    @Test
    void openSorasSpatialDecoderTakesTwoFramesAtATimeAt256AndFourAt192() {
        PackManifest m = RealSizeManifests.openSoraV12(WeightPrecision.FLOAT32);
        assertThat(m.vae().spatialMicroBatch()).isEqualTo(4);
        // 3 tensors of [mb, 256, H, W] floats: 201.3 MB per frame at 256x256, 113.2 MB at 192x192
        assertThat(VaeDecoder.spatialBatchBytes(m, 1, 256, 256)).isEqualTo(3L * 256 * 65536 * 4);
        assertThat(VaeDecoder.spatialMicroBatch(m, 256, 256)).isEqualTo(2);
        assertThat(VaeDecoder.spatialMicroBatch(m, 192, 192)).isEqualTo(4);
        assertThat(VaeDecoder.spatialMicroBatch(m, 64, 64)).isEqualTo(4);
        assertThat(VaeDecoder.spatialMicroBatch(m, 512, 512)).isEqualTo(1);
        assertThat(VaeDecoder.spatialBatchBytes(m, VaeDecoder.spatialMicroBatch(m, 256, 256), 256,
                256)).isLessThanOrEqualTo(VaeDecoder.SPATIAL_BATCH_BYTES);
    }
}
