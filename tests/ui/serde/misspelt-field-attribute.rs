use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[schema(version = 3, migrate(from = 1, add(retries)), migrate(from = 2, rename(title = name)))]
pub struct Job {
    #[serde(renam = "job_name")]
    pub name: String,
    pub retries: u32,
}

fn main() {
    let job: Job = serde_json::from_str(r#"{"_version":1,"title":"sync"}"#).unwrap();
    println!("{job:?}");
}
