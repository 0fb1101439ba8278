package io.github.sora4j.merge;

import ai.djl.ndarray.NDArray;

/** Which {@link TokenMerger} classes keep the interface's {@code merge} and {@code unmerge}. */
final class DefaultArithmetic {
    private static final ClassValue<Boolean> KEPT = new ClassValue<>() {
        @Override
        protected Boolean computeValue(Class<?> type) {
            return declaredByInterface(type, "merge") && declaredByInterface(type, "unmerge");
        }
    };

    private DefaultArithmetic() {}

    /**
     * Whether a merger class uses the default merge and unmerge (checked once per class).
     *
     * @param type a {@link TokenMerger} class
     * @return true if neither method is overridden
     */
    static boolean keptBy(Class<?> type) {
        return KEPT.get(type);
    }

    private static boolean declaredByInterface(Class<?> type, String name) {
        try {
            return type.getMethod(name, NDArray.class, FrameGroups.class, int.class)
                    .getDeclaringClass() == TokenMerger.class;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }
}
