use schema_migrate::Versioned;

#[derive(Clone, Copy, Versioned)]
#[schema(version = 1)]
pub union Bits {
    pub int: u32,
    pub float: f32,
}

fn main() {
    let b: Bits = serde_json::from_str(r#"{"_version":1,"int":7}"#).unwrap();
    println!("{}", unsafe { b.int });
}
