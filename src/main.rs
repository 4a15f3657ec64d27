fn main() {
    println!("simrun");
}
