package io.github.sora4j.pack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;

/**
 * Who besides this process's user (and root) could change a file: the owner of the file and of
 * every directory above it must be this user or root, and none of them may be writable by its
 * group or by others, except a sticky directory (such as {@code /tmp}) whose entry on the path
 * belongs to this user or root (others cannot rename or remove it). The same rule as OpenSSH's
 * {@code StrictModes}. When it holds, only this user or root can change the file's bytes or put
 * another file at its path; both already control the process, so a block file that passed its
 * SHA-256 check at open is re-checked on load with a fast checksum of the bytes loaded ({@link
 * ModelPack}), which catches accidental changes, instead of a second SHA-256.
 *
 * <p>Only POSIX file systems can give the answer; elsewhere (Windows, a file system without
 * owners) the file is treated as writable by others.
 */
final class WriteProtection {
    private static final int STICKY = 01000;
    private static final int GROUP_OR_OTHERS_WRITE = 0022;
    private static final Integer SELF = processUid();

    private WriteProtection() {}

    /**
     * Why users other than this one and root could change a file, or null if they cannot.
     *
     * @param realFile the file's real path (no symbolic links, as {@link PackPaths} returns it)
     * @return null, or a reason naming the path and its owner or mode
     */
    static String othersCanWrite(Path realFile) {
        if (SELF == null) {
            return "the file system's owners and modes cannot be read on this platform";
        }
        try {
            // Walking up, every entry below p was found to belong to this user or root, so a
            // sticky p shelters it: others may add entries to p but not rename or remove it.
            for (Path p = realFile; p != null; p = p.getParent()) {
                Map<String, Object> a = Files.readAttributes(p, "unix:uid,mode",
                        LinkOption.NOFOLLOW_LINKS);
                int uid = (Integer) a.get("uid");
                int mode = (Integer) a.get("mode");
                if (uid != SELF && uid != 0) {
                    return p + " belongs to user id " + uid;
                }
                boolean sticky = !p.equals(realFile) && (mode & STICKY) != 0;
                if ((mode & GROUP_OR_OTHERS_WRITE) != 0 && !sticky) {
                    return p + " is writable by its group or others (mode "
                            + Integer.toOctalString(mode & 07777) + ")";
                }
            }
            return null;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException
                | ClassCastException | SecurityException e) {
            return "the owner or mode of " + realFile + " cannot be read (" + e + ")";
        }
    }

    private static Integer processUid() {
        try {
            return (int) new com.sun.security.auth.module.UnixSystem().getUid();
        } catch (LinkageError | RuntimeException e) {
            try {
                return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            } catch (IOException | RuntimeException e2) {
                return null;
            }
        }
    }
}
