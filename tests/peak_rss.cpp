// peak_rss [--as-mib N] PROGRAM ARGS...: runs PROGRAM, prints "peak_rss_mib <M>" on stdout, the
// largest resident set of the program and of the processes it waited for (its reader process),
// from getrusage(RUSAGE_CHILDREN), and exits with its exit status. --as-mib sets the program's soft
// address-space limit (its available_memory() then reports at most that).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
    int first = 1;
    long as_mib = 0;
    if (argc > 2 && std::strcmp(argv[1], "--as-mib") == 0) as_mib = std::atol(argv[2]), first = 3;
    if (first >= argc) {
        std::fprintf(stderr, "usage: peak_rss [--as-mib N] PROGRAM ARGS...\n");
        return 64;
    }
    const pid_t pid = ::fork();
    if (pid < 0) return 70;
    if (pid == 0) {
        if (as_mib > 0) {
            rlimit r{};
            ::getrlimit(RLIMIT_AS, &r);
            r.rlim_cur = rlim_t(as_mib) << 20;
            ::setrlimit(RLIMIT_AS, &r);
        }
        ::execv(argv[first], argv + first);
        _exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
    }
    rusage u{};
    ::getrusage(RUSAGE_CHILDREN, &u);
    std::printf("peak_rss_mib %.1f\n", double(u.ru_maxrss) / 1024.0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
