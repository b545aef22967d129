//! Reading an exec's arguments and environment out of the calling process's
//! memory (`/proc/PID/mem`). The strings of one exec mostly sit together on a
//! few pages (a shell builds them on its heap), so memory is read a page at a
//! time and each page once: a few system calls per exec instead of two per
//! string, each of which costs microseconds (the kernel walks the target's
//! page tables under its memory lock).

use std::fs::File;
use std::os::unix::fs::FileExt;

const PAGE: u64 = 4096;
/// Pages kept for one exec; the oldest is dropped beyond this.
const MAX_PAGES: usize = 64;

/// The pages of one process's memory read so far.
pub(crate) struct RemoteMemory<'a> {
    mem: &'a File,
    pages: Vec<(u64, Vec<u8>)>,
}

impl<'a> RemoteMemory<'a> {
    pub(crate) fn new(mem: &'a File) -> Self {
        RemoteMemory {
            mem,
            pages: Vec::new(),
        }
    }

    /// The readable bytes of the page holding `addr` (fewer than a page
    /// where the kernel returned fewer).
    fn page(&mut self, addr: u64) -> Result<&[u8], String> {
        let base = addr & !(PAGE - 1);
        let at = match self.pages.iter().position(|(b, _)| *b == base) {
            Some(i) => i,
            None => {
                let mut data = vec![0u8; PAGE as usize];
                let n = self
                    .mem
                    .read_at(&mut data, base)
                    .map_err(|e| format!("memory at {addr:#x}: {e}"))?;
                data.truncate(n);
                if self.pages.len() >= MAX_PAGES {
                    self.pages.remove(0);
                }
                self.pages.push((base, data));
                self.pages.len() - 1
            }
        };
        let data = &self.pages[at].1;
        let off = (addr - base) as usize;
        if off >= data.len() {
            return Err(format!("memory at {addr:#x} is not mapped"));
        }
        Ok(&data[off..])
    }

    /// The NUL-terminated string at `addr`; its length (and the NUL) is
    /// taken from `budget`, and a string longer than what is left of it is
    /// an error.
    pub(crate) fn string(&mut self, addr: u64, budget: &mut usize) -> Result<String, String> {
        let mut out = Vec::new();
        let mut at = addr;
        loop {
            let bytes = self
                .page(at)
                .map_err(|e| format!("string at {addr:#x} runs off the mapped memory ({e})"))?;
            if let Some(end) = bytes.iter().position(|b| *b == 0) {
                out.extend_from_slice(&bytes[..end]);
                break;
            }
            out.extend_from_slice(bytes);
            at += bytes.len() as u64;
            if out.len() > *budget {
                return Err(format!(
                    "arguments larger than {} bytes",
                    crate::notify::MAX_ARGS_BYTES
                ));
            }
        }
        if out.len() > *budget {
            return Err(format!(
                "arguments larger than {} bytes",
                crate::notify::MAX_ARGS_BYTES
            ));
        }
        *budget = budget.saturating_sub(out.len() + 1);
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn word(&mut self, addr: u64) -> Result<u64, String> {
        let mut word = [0u8; 8];
        let mut got = 0;
        while got < word.len() {
            let bytes = self.page(addr + got as u64)?;
            let n = bytes.len().min(word.len() - got);
            word[got..got + n].copy_from_slice(&bytes[..n]);
            got += n;
        }
        Ok(u64::from_ne_bytes(word))
    }

    /// The NULL-terminated array of string pointers at `addr` (argv, envp),
    /// at most `max` of them; a NULL `addr` is an empty array.
    pub(crate) fn vector(
        &mut self,
        addr: u64,
        max: usize,
        budget: &mut usize,
    ) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        for i in 0..max as u64 {
            let p = self
                .word(addr.wrapping_add(8 * i))
                .map_err(|e| format!("pointer {i} at {addr:#x}: {e}"))?;
            if p == 0 {
                return Ok(out);
            }
            out.push(self.string(p, budget)?);
        }
        Err(format!("more than {max} arguments"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_memory() -> File {
        File::open("/proc/self/mem").unwrap()
    }

    /// A NULL-terminated pointer array to NUL-terminated copies of `items`,
    /// in this process's memory (kept alive by the returned buffers).
    fn c_vector(items: &[&str]) -> (Vec<Vec<u8>>, Vec<u64>) {
        let strings: Vec<Vec<u8>> = items
            .iter()
            .map(|s| {
                let mut v = s.as_bytes().to_vec();
                v.push(0);
                v
            })
            .collect();
        let mut ptrs: Vec<u64> = strings.iter().map(|s| s.as_ptr() as u64).collect();
        ptrs.push(0);
        (strings, ptrs)
    }

    #[test]
    fn strings_and_vectors_are_read_from_real_memory() {
        let mem = own_memory();
        let long = "x".repeat(10_000);
        let items = ["ls", "-la", "", "é and more", long.as_str()];
        let (_strings, ptrs) = c_vector(&items);
        let mut budget = crate::notify::MAX_ARGS_BYTES;
        let mut r = RemoteMemory::new(&mem);
        let got = r.vector(ptrs.as_ptr() as u64, 100, &mut budget).unwrap();
        assert_eq!(got, items);
        let used: usize = items.iter().map(|s| s.len() + 1).sum();
        assert_eq!(budget, crate::notify::MAX_ARGS_BYTES - used);
        assert!(r.vector(0, 100, &mut budget).unwrap().is_empty());
    }

    #[test]
    fn limits_and_unmapped_memory_are_errors() {
        let mem = own_memory();
        // Everything read is in place before the first read: pages once read
        // are kept, as they are for a stopped process.
        let (_strings, ptrs) = c_vector(&["a", "b", "c"]);
        let (_s, long) = c_vector(&["abcdef"]);
        let mut budget = 1 << 20;
        let mut r = RemoteMemory::new(&mem);
        let e = r.vector(ptrs.as_ptr() as u64, 2, &mut budget).unwrap_err();
        assert!(e.contains("more than 2"), "{e}");
        let mut small = 3;
        let e = r.vector(long.as_ptr() as u64, 10, &mut small).unwrap_err();
        assert!(e.contains("larger than"), "{e}");
        // Page zero is never mapped.
        let e = r.string(16, &mut budget).unwrap_err();
        assert!(e.contains("runs off the mapped memory"), "{e}");
        let e = r.vector(8, 10, &mut budget).unwrap_err();
        assert!(e.contains("pointer 0"), "{e}");
    }
}
