import PlantarCLI

/// The `plantar` executable: everything lives in PlantarCLI.
@main
enum PlantarMain {
    static func main() async {
        await PlantarCommand.main()
    }
}
