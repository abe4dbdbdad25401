# udmcrypt build. "make" builds the library, the command and the tests;
# "make SANITIZE=1" builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer into build-san/.

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

all: $(BUILD)/udmcrypt $(TEST_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

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
	rm -rf build build-san

.PHONY: all check clean
.SECONDARY:

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%.d)

PREFIX ?= /usr/local
install: $(BUILD)/udmcrypt
	install -D -m 0755 $(BUILD)/udmcrypt $(DESTDIR)$(PREFIX)/sbin/udmcrypt
	install -D -m 0644 docs/udmcrypt.8 $(DESTDIR)$(PREFIX)/share/man/man8/udmcrypt.8

.PHONY: install
