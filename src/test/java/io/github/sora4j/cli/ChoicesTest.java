package io.github.sora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.load.LoaderKind;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

class ChoicesTest {
    @Test
    void lplModes() {
        Choices.LplConverter c = new Choices.LplConverter();
        assertThat(c.convert("off")).isEqualTo(Choices.Lpl.OFF);
        assertThat(c.convert("fixed")).isEqualTo(new Choices.Lpl("fixed", 15));
        assertThat(c.convert("FIXED:7")).isEqualTo(new Choices.Lpl("fixed", 7));
        assertThat(c.convert("fixed:7").maxCalls(30)).isEqualTo(8);
        assertThat(c.convert("fixed:40").maxCalls(30)).isEqualTo(30);
        assertThat(c.convert("dynamic").maxCalls(30)).isEqualTo(30);
        assertThatThrownBy(() -> c.convert("fixed:-1")).isInstanceOf(TypeConversionException.class);
    }

    @Test
    void dynamicLplStatesWhichRuleItRunsAndOffersTheOther() {
        Choices.LplConverter c = new Choices.LplConverter();
        Choices.Lpl project = c.convert("dynamic");
        Choices.Lpl upstream = c.convert("Dynamic-Upstream");
        assertThat(project.describe()).contains("sora4j rule", "1e-4");
        assertThat(upstream.describe()).contains("paper's code", "1e-3", "v[0,0,0]");
        assertThat(project.scheduler().toString()).doesNotContain("upstream");
        assertThat(upstream.scheduler().toString()).contains("upstream");
        assertThat(project.mayEndEarly()).isTrue();
        assertThat(upstream.mayEndEarly()).isTrue();
        assertThat(c.convert("fixed").mayEndEarly()).isFalse();
        assertThatThrownBy(() -> c.convert("dynamic-x")).isInstanceOf(TypeConversionException.class)
                .hasMessageContaining("dynamic-upstream");
    }

    @Test
    void tdtmRuleChoosesTheOddFrameRule() {
        Choices.TdtmRuleConverter c = new Choices.TdtmRuleConverter();
        assertThat(c.convert("upstream")).isEqualTo("upstream");
        assertThat(c.convert("SORA4J")).isEqualTo("sora4j");
        assertThatThrownBy(() -> c.convert("paper")).isInstanceOf(TypeConversionException.class);
        Choices.Tdtm t = new Choices.Tdtm(15).withUpstreamRule(true);
        assertThat(t.merger().toString()).contains("Upstream");
        assertThat(t.describe()).contains("upstream odd-T rule");
        assertThat(new Choices.Tdtm(15).merger().toString()).doesNotContain("Upstream");
        assertThatThrownBy(() -> c.convert("fixed:x")).isInstanceOf(TypeConversionException.class);
    }

    @Test
    void tdtmSteps() {
        Choices.TdtmConverter c = new Choices.TdtmConverter();
        assertThat(c.convert("15").steps()).isEqualTo(15);
        assertThat(c.convert("all").steps()).isEqualTo(Integer.MAX_VALUE);
        assertThat(c.convert("off").steps()).isZero();
        assertThatThrownBy(() -> c.convert("half")).isInstanceOf(TypeConversionException.class);
    }

    @Test
    void loaderLabelsInAnyCase() {
        Choices.LoaderConverter c = new Choices.LoaderConverter();
        assertThat(c.convert("resident")).isEqualTo(LoaderKind.RESIDENT);
        assertThat(c.convert("sequential")).isEqualTo(LoaderKind.SEQUENTIAL);
        assertThat(c.convert("ci-dl")).isEqualTo(LoaderKind.CONCURRENT_DYNAMIC);
        assertThat(c.convert("CI")).isEqualTo(LoaderKind.CONCURRENT);
        assertThat(c.convert("dl")).isEqualTo(LoaderKind.DYNAMIC);
    }

    @Test
    void byteSizesInDecimalAndBinaryUnits() {
        assertThat(Choices.parseBytes("3.3GB")).isEqualTo(3_300_000_000L);
        assertThat(Choices.parseBytes("800 MB")).isEqualTo(800_000_000L);
        assertThat(Choices.parseBytes("2GiB")).isEqualTo(2L << 30);
        assertThat(Choices.parseBytes("12345")).isEqualTo(12345L);
        assertThatThrownBy(() -> Choices.parseBytes("0GB"))
                .isInstanceOf(TypeConversionException.class);
        assertThatThrownBy(() -> Choices.parseBytes("-1"))
                .isInstanceOf(TypeConversionException.class);
    }

    @Test
    void sizes() {
        Choices.SizeConverter c = new Choices.SizeConverter();
        assertThat(c.convert("256x144")).isEqualTo(new Choices.Size(256, 144));
        assertThat(c.convert("64")).isEqualTo(new Choices.Size(64, 64));
        assertThatThrownBy(() -> c.convert("1x2x3")).isInstanceOf(TypeConversionException.class);
    }
}
