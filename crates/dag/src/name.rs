use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::rc::Rc;
use std::sync::Arc;

/// What a node can be named by: strings for pipelines written by people, integers for generated graphs.
///
/// Names are given and returned in their borrowed [`Key`](Name::Key) form (`&str` for string
/// names): a builder copies each distinct name once into one contiguous arena, so mentioning a
/// dependency costs a hash lookup, never an allocation. The owned type appears only in
/// [`ValidationError`](crate::ValidationError)s.
///
/// Implemented for `Arc<str>` (the default), `Rc<str>`, `Box<str>`, `String`, and the integer types.
/// Another owned key type can implement it with `type Arena = Vec<Self>`.
///
/// # Examples
///
/// ```
/// use stanchion_dag::DagBuilder;
///
/// let mut by_number = DagBuilder::<u64>::new();
/// by_number.add_node(&2, [&1]).add_node(&1, []);
/// let dag = by_number.build().unwrap();
/// assert_eq!(dag.name(dag.topo_order()[0]), &1);
/// ```
pub trait Name: Clone + Eq + Hash + fmt::Display + Borrow<Self::Key> {
    /// The borrowed form names are given and looked up by.
    type Key: ?Sized + Eq + Hash;

    /// Where a DAG keeps its names: one arena for all of them.
    type Arena: Arena<Self::Key>;

    /// An owned name equal to `key`.
    fn from_key(key: &Self::Key) -> Self;

    /// Whether this is the empty name, which validation rejects. Integers are never empty.
    fn is_empty_name(key: &Self::Key) -> bool {
        let _ = key;
        false
    }

    /// The node index a key stands for in a DAG built by [`Dag::from_indexed`](crate::Dag::from_indexed),
    /// where names are positions. `None` for every other kind of name.
    #[doc(hidden)]
    fn as_position(key: &Self::Key) -> Option<usize> {
        let _ = key;
        None
    }
}

/// Storage for many names, indexed from 0 in the order they were pushed.
pub trait Arena<K: ?Sized>: Default + Clone + fmt::Debug + Send + Sync {
    /// An empty arena with room for `names` names.
    fn with_capacity(names: usize) -> Self;

    /// Appends `key`.
    fn push(&mut self, key: &K);

    /// The key pushed `index`-th.
    fn get(&self, index: usize) -> &K;

    /// Whether the key pushed `index`-th equals `key`; the hash table's hot comparison.
    #[inline]
    fn matches(&self, index: usize, key: &K) -> bool
    where
        K: PartialEq,
    {
        self.get(index) == key
    }
}

/// Every string name back to back in one buffer, with where each starts and ends.
#[derive(Debug, Clone, Default)]
pub struct StrArena {
    text: String,
    spans: Vec<(usize, usize)>,
}

impl Arena<str> for StrArena {
    fn with_capacity(names: usize) -> Self {
        Self {
            text: String::with_capacity(names * 16),
            spans: Vec::with_capacity(names),
        }
    }

    #[inline]
    fn push(&mut self, key: &str) {
        let start = self.text.len();
        self.text.push_str(key);
        self.spans.push((start, self.text.len()));
    }

    #[inline]
    fn get(&self, index: usize) -> &str {
        let (start, end) = self.spans[index];
        &self.text[start..end]
    }

    /// Compares bytes, skipping the character-boundary checks of slicing a `str`.
    #[inline]
    fn matches(&self, index: usize, key: &str) -> bool {
        let (start, end) = self.spans[index];
        &self.text.as_bytes()[start..end] == key.as_bytes()
    }
}

impl<T: Clone + fmt::Debug + Send + Sync> Arena<T> for Vec<T> {
    fn with_capacity(names: usize) -> Self {
        Vec::with_capacity(names)
    }

    #[inline]
    fn push(&mut self, key: &T) {
        Vec::push(self, key.clone());
    }

    #[inline]
    fn get(&self, index: usize) -> &T {
        &self[index]
    }
}

macro_rules! string_names {
    ($($owned:ty),* $(,)?) => {$(
        impl Name for $owned {
            type Key = str;
            type Arena = StrArena;

            fn from_key(key: &str) -> Self {
                key.into()
            }

            fn is_empty_name(key: &str) -> bool {
                key.is_empty()
            }
        }
    )*};
}

string_names!(Arc<str>, Rc<str>, Box<str>, String);

macro_rules! integer_names {
    ($($int:ty),* $(,)?) => {$(
        impl Name for $int {
            type Key = $int;
            type Arena = Vec<$int>;

            fn from_key(key: &$int) -> Self {
                *key
            }

            fn as_position(key: &$int) -> Option<usize> {
                usize::try_from(*key).ok()
            }
        }
    )*};
}

integer_names!(u16, u32, u64, usize, i32, i64);

/// Finds a name's number from its key: a table of numbers hashed by the keys they stand for in an
/// arena, so the table holds no copy of any name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lookup {
    table: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl Lookup {
    pub(crate) fn with_capacity(names: usize) -> Self {
        Self {
            table: hashbrown::HashTable::with_capacity(names),
            hasher: Default::default(),
        }
    }

    /// The number of `key` in `arena`, if it was recorded.
    #[inline]
    pub(crate) fn find<N: Name>(&self, arena: &N::Arena, key: &N::Key) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        self.table
            .find(hash, |&number| arena.matches(number as usize, key))
            .copied()
    }

    /// The number of `key`, pushing it onto `arena` under the next number if it is new.
    #[inline]
    pub(crate) fn intern<N: Name>(
        &mut self,
        arena: &mut N::Arena,
        count: &mut u32,
        key: &N::Key,
    ) -> u32 {
        let hash = self.hasher.hash_one(key);
        let hasher = &self.hasher;
        match self.table.entry(
            hash,
            |&number| arena.matches(number as usize, key),
            |&number| hasher.hash_one(arena.get(number as usize)),
        ) {
            hashbrown::hash_table::Entry::Occupied(entry) => *entry.get(),
            hashbrown::hash_table::Entry::Vacant(entry) => {
                let number = *count;
                arena.push(key);
                *count += 1;
                entry.insert(number);
                number
            }
        }
    }

    /// Renumbers every entry through `renumber`, which must keep each key's number pointing at an
    /// equal key.
    pub(crate) fn renumber(&mut self, renumber: impl Fn(u32) -> u32) {
        for number in self.table.iter_mut() {
            *number = renumber(*number);
        }
    }
}
