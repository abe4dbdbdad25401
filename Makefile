# udmcrypt build. "make" builds the library, the command, the tests and,
# when nbdkit's development files are installed, the nbdkit filter
# nbdkit-udmcrypt-filter.so; "make SANITIZE=1" builds everything but the
# filter with AddressSanitizer and UndefinedBehaviorSanitizer into
# build-san/. "make fuzz" builds the libFuzzer harnesses of fuzz/ with
# clang into build-fuzz/ (scripts/fuzz.sh runs them).

CC ?= cc
PKGS := libcrypto libgcrypt fuse3 zlib libargon2 json-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lpthread

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wno-missing-field-initializers -Wformat=2 -Wvla
ifeq ($(SANITIZE),1)
BUILD ?= build-san
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
BUILD ?= build
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude -Ilib \
	$(WARN) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP

LIB_SRCS := $(wildcard lib/*.c)
CLI_SRCS := $(wildcard src/cli/*.c) $(wildcard src/fuse/*.c)
TEST_SRCS := $(wildcard tests/unit/test_*.c)

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# The filter is a shared object, so it links its own position-independent
# build of the library. It is never sanitized: nbdkit itself is not, and
# with libasan in LD_PRELOAD nbdkit 1.32 hung in glibc's locale lock while
# the filter parsed a LUKS2 header (json-c's newlocale).
HAVE_NBDKIT := $(shell pkg-config --exists nbdkit && echo 1)
NBD_SRCS := $(wildcard src/nbd/*.c)
PIC_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/pic/%.o)
NBD_OBJS := $(NBD_SRCS:%.c=$(BUILD)/pic/%.o)
NBD_FILTER := $(BUILD)/nbdkit-udmcrypt-filter.so

all: $(BUILD)/udmcrypt $(TEST_BINS)
ifeq ($(HAVE_NBDKIT),1)
NBDKIT_CFLAGS := $(shell pkg-config --cflags nbdkit)
NBDKIT_FILTERDIR := $(shell pkg-config --variable=filterdir nbdkit)
all: $(NBD_FILTER)
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

NO_SANITIZE = $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(1))

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(call NO_SANITIZE,$(ALL_CFLAGS)) $(NBDKIT_CFLAGS) -fPIC -c -o $@ $<

$(NBD_FILTER): $(NBD_OBJS) $(PIC_LIB_OBJS) src/nbd/filter.syms
	$(CC) $(call NO_SANITIZE,$(LDFLAGS)) -shared -Wl,--version-script=src/nbd/filter.syms \
		-o $@ $(NBD_OBJS) $(PIC_LIB_OBJS) $(PKG_LIBS)

$(BUILD)/libudmcrypt.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/udmcrypt: $(CLI_OBJS) $(BUILD)/libudmcrypt.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libudmcrypt.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

check: all
	tests/run-tests.sh $(BUILD)

clean:
	rm -rf build build-san build-fuzz

.PHONY: all check clean
.SECONDARY:

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%.d)
-include $(PIC_LIB_OBJS:.o=.d) $(NBD_OBJS:.o=.d)

PREFIX ?= /usr/local
# The filter goes to nbdkit's filter directory, where --filter=udmcrypt finds it.
install: $(BUILD)/udmcrypt $(if $(HAVE_NBDKIT),$(NBD_FILTER))
	install -D -m 0755 $(BUILD)/udmcrypt $(DESTDIR)$(PREFIX)/sbin/udmcrypt
	install -D -m 0644 docs/udmcrypt.8 $(DESTDIR)$(PREFIX)/share/man/man8/udmcrypt.8
ifeq ($(HAVE_NBDKIT),1)
	install -D -m 0755 $(NBD_FILTER) $(DESTDIR)$(NBDKIT_FILTERDIR)/nbdkit-udmcrypt-filter.so
	install -D -m 0644 docs/nbdkit-udmcrypt-filter.1 \
		$(DESTDIR)$(PREFIX)/share/man/man1/nbdkit-udmcrypt-filter.1
endif

.PHONY: install

# libFuzzer harnesses: build-fuzz/fuzz-NAME from fuzz/NAME.c. The library
# and the frontend files a harness links are instrumented for coverage
# (fuzzer-no-link) and built with AddressSanitizer and UBSan. Secure memory
# comes from the heap (UDM_SECMEM_HEAP), where ASan checks its bounds.
FUZZ_CC ?= clang
FUZZ_BUILD := build-fuzz
FUZZ_SANITIZE := address,undefined
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude -Ilib -Ifuzz \
	-Isrc/fuse -Isrc/nbd \
	$(WARN) $(PKG_CFLAGS) -O1 -g -fno-omit-frame-pointer \
	-fsanitize=$(FUZZ_SANITIZE) -fno-sanitize-recover=undefined \
	-DUDM_SECMEM_HEAP -MMD -MP
FUZZ_NAMES := table luks1 luks2 luks2-json plain control
FUZZ_FRONTEND_OBJS_control := $(FUZZ_BUILD)/src/fuse/control.o
ifeq ($(HAVE_NBDKIT),1)
FUZZ_NAMES += nbd-options
FUZZ_CFLAGS += $(shell pkg-config --cflags nbdkit)
FUZZ_FRONTEND_OBJS_nbd-options := $(FUZZ_BUILD)/src/nbd/options.o \
	$(FUZZ_BUILD)/src/nbd/table.o $(FUZZ_BUILD)/fuzz/nbdkit-stubs.o
endif
FUZZ_BINS := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz-%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)

fuzz: $(FUZZ_BINS)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/libudmcrypt.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

.SECONDEXPANSION:
$(FUZZ_BUILD)/fuzz-%: $(FUZZ_BUILD)/fuzz/%.o $$(FUZZ_FRONTEND_OBJS_$$*) $(FUZZ_BUILD)/libudmcrypt.a
	$(FUZZ_CC) -fsanitize=fuzzer,$(FUZZ_SANITIZE) -o $@ $^ $(PKG_LIBS)

.PHONY: fuzz

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/%.d)
-include $(FUZZ_BUILD)/src/fuse/control.d $(FUZZ_BUILD)/src/nbd/options.d \
	$(FUZZ_BUILD)/src/nbd/table.d $(FUZZ_BUILD)/fuzz/nbdkit-stubs.d
